"""The stored state a case's page shows, read with five plain Core statements and summed up in one digest.

A case's page (edms.web.case_views.detail) prints the case's facts, its records as a checklist and a flow
picture, their retention, its dates and answers: a function of the rows read here (every column of the case,
its site, its dates and answers, its documents with their owners' printed names, their versions, their
signatures but for the signed bytes, which the page does not show, and the physician's printed name). The
deadlines are stated at the moment of each request from the same rows (`deadlines`), without a further read.

`CasePageState.digest` covers every column read, so any change, through edms or behind its back (a tampered
row), gives another digest: the page's parts kept for one digest (edms.web.record_cache) are what a fresh
rendering of that state prints. The state is read on every request, so it holds across threads, processes and
nodes. No ORM object is loaded (nothing lazy, nothing in the identity map).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BindParameter, bindparam, select
from sqlalchemy.orm import Session

from edms.cases import models as cm
from edms.cases.deadlines import DeadlineStatus
from edms.cases.queries import deadlines_of, records_of, release_blockers
from edms.cases.regimes import Blocker, Regime, resolve_conditions
from edms.documents import models as dm
from edms.documents.types import DocumentType
from edms.signatures.models import Signature
from edms.signatures.record_state import digest_of
from edms.sites.models import Site
from edms.users.models import User

_cases, _sites, _dates, _answers = cm.Case.__table__, Site.__table__, cm.CaseDate.__table__, cm.CaseAnswer.__table__
_documents, _versions, _signatures = dm.Document.__table__, dm.DocumentVersion.__table__, Signature.__table__
_CASE_ID: BindParameter[int] = bindparam("case_id")  # the statements are built once; each read binds the case
_physicians, _owners = User.__table__.alias("physician"), User.__table__.alias("owner")

_CASE = (select(_cases, _sites.c.name.label("site_name"), _sites.c.timezone.label("site_zone"),
                _physicians.c.printed_name.label("physician_printed_name"))
         .join(_sites, _sites.c.id == _cases.c.site_id)
         .outerjoin(_physicians, _physicians.c.id == _cases.c.physician_id)
         .where(_cases.c.id == _CASE_ID))
_DATES = select(_dates).where(_dates.c.case_id == _CASE_ID).order_by(_dates.c.id)
_ANSWERS = select(_answers).where(_answers.c.case_id == _CASE_ID).order_by(_answers.c.id)
_DOCUMENTS = (select(_documents, _owners.c.printed_name.label("owner_printed_name"), _versions)
              .join(_owners, _owners.c.id == _documents.c.owner_id)
              .join(_versions, _versions.c.document_id == _documents.c.id)
              .where(_documents.c.case_id == _CASE_ID)
              .order_by(_documents.c.id, _versions.c.version))
# Who signed which step of which version (the flow's "who acts next"): every column but the signed bytes.
_SIGNATURES = (select(*(c for c in _signatures.c if c.name not in ("manifest", "cms", "timestamp_response")))
               .join(_documents, _documents.c.id == _signatures.c.document_id)
               .where(_documents.c.case_id == _CASE_ID)
               .order_by(_signatures.c.id))


@dataclass(frozen=True)
class VersionRow:
    version: int
    status: str
    content: str


@dataclass(frozen=True)
class DocumentRow:
    id: int
    number: str
    type_key: str
    status: str
    versions: tuple[VersionRow, ...]  # by version number


@dataclass(frozen=True)
class CasePageState:
    id: int
    reference: str
    regime_key: str
    status: str
    site_zone: str  # the zone of the case's site, which every date of the case is shown in
    documents: tuple[DocumentRow, ...]  # by id
    dates: Mapping[str, datetime]  # the current value of each date (the latest entry wins)
    answers: Mapping[str, bool]  # the current answer to each question
    digest: bytes

    def deadlines(self, types: Mapping[str, DocumentType], regime: Regime,
                  now: datetime) -> tuple[list[DeadlineStatus], list[Blocker]]:
        """The deadlines stated at `now` and what forbids administration, exactly as
        edms.cases.queries.case_status computes them from the ORM objects."""
        records = records_of(self.documents, types, self.site_zone)
        conditions = resolve_conditions(regime, answers=self.answers, records=records)
        deadlines = deadlines_of(regime, records, answers=self.answers, dates=self.dates, zone=self.site_zone, now=now)
        return deadlines, release_blockers(regime, records, conditions, deadlines, self.site_zone)


def case_page_state(session: Session, case_id: int) -> CasePageState | None:
    """The case's stored state (None: no such case): five statements, run on the unit of work's connection."""
    connection = session.connection()  # Core on the session's transaction: no ORM execution path
    named = {"case_id": case_id}
    case_rows = connection.execute(_CASE, named).all()
    if not case_rows:
        return None
    dates = connection.execute(_DATES, named).all()
    answers = connection.execute(_ANSWERS, named).all()
    rows = connection.execute(_DOCUMENTS, named).all()
    signatures = connection.execute(_SIGNATURES, named).all()
    case = case_rows[0]._mapping
    documents: list[DocumentRow] = []
    versions: list[VersionRow] = []
    for index, row in enumerate(rows):
        values = row._mapping
        versions.append(VersionRow(values[_versions.c.version], values[_versions.c.status],
                                   values[_versions.c.content]))
        if index + 1 == len(rows) or rows[index + 1]._mapping[_documents.c.id] != values[_documents.c.id]:
            documents.append(DocumentRow(values[_documents.c.id], values[_documents.c.number],
                                         values[_documents.c.type_key], values[_documents.c.status], tuple(versions)))
            versions = []
    return CasePageState(
        id=case[_cases.c.id], reference=case[_cases.c.reference], regime_key=case[_cases.c.regime_key],
        status=case[_cases.c.status], site_zone=case["site_zone"], documents=tuple(documents),
        dates={row._mapping[_dates.c.key]: row._mapping[_dates.c.value] for row in dates},
        answers={row._mapping[_answers.c.key]: row._mapping[_answers.c.answer] for row in answers},
        digest=digest_of((case_rows, dates, answers, rows, signatures)),
    )


def case_page_digest(session: Session, case_id: int) -> bytes | None:
    """The digest of the case's state read again (None: the case is gone)."""
    again = case_page_state(session, case_id)
    return again.digest if again is not None else None
