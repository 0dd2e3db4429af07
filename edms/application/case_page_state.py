"""The stored state a case's page shows, read with ONE plain Core statement and summed up in one digest.

A case's page (edms.web.case_views.detail) prints the case's facts, its records as a checklist and a flow
picture, their retention, its dates and answers: a function of the rows read here (every column of the case,
its site, its dates and answers, its documents with their owners' printed names, their versions, their
signatures but for the signed bytes, which the page does not show, and the physician's printed name). The
deadlines are stated at the moment of each request from the same rows (`deadlines`), without a further read.

The five row sets come in one round trip: a UNION ALL of five SELECTs, each row tagged with the set it belongs
to (`kind`) and placed in typed slots (edms.row_sets), so SQLite and PostgreSQL type every column alike.
`CasePageState.digest` covers every value read, so any change, through edms or behind its back (a tampered
row), gives another digest: the page kept for one digest (edms.web.record_cache) is what a fresh rendering of
that state prints. The state is read on every request, so it holds across threads, processes and nodes. No
ORM object is loaded (nothing lazy, nothing in the identity map).
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, bindparam
from sqlalchemy.orm import Session

from edms.cases import models as cm
from edms.cases.deadlines import DeadlineStatus
from edms.cases.queries import deadlines_of, records_of, release_blockers
from edms.cases.regimes import Blocker, Regime, resolve_conditions
from edms.documents import models as dm
from edms.documents.types import DocumentType
from edms.row_sets import RowSet, tagged_union, zero
from edms.signatures.models import Signature
from edms.sites.models import Site
from edms.users.models import User

_cases, _sites, _dates, _answers = cm.Case.__table__, Site.__table__, cm.CaseDate.__table__, cm.CaseAnswer.__table__
_documents, _versions, _signatures = dm.Document.__table__, dm.DocumentVersion.__table__, Signature.__table__
_CASE_ID: BindParameter[int] = bindparam("case_id")  # the statement is built once; each read binds the case
_physicians, _owners = User.__table__.alias("physician"), User.__table__.alias("owner")

CASE, DATES, ANSWERS, DOCUMENTS, SIGNATURES = range(5)  # the row sets, in the order the statement returns them

_STATE, _PLACES, _ = tagged_union({  # (no bytes are read)
    CASE: RowSet(
        (*_cases.c, _sites.c.name.label("site_name"), _sites.c.timezone.label("site_zone"),
         _physicians.c.printed_name.label("physician_printed_name")),
        (zero(), zero()),
        lambda s: s.select_from(_cases).join(_sites, _sites.c.id == _cases.c.site_id)
        .outerjoin(_physicians, _physicians.c.id == _cases.c.physician_id).where(_cases.c.id == _CASE_ID)),
    DATES: RowSet(tuple(_dates.c), (_dates.c.id, zero()), lambda s: s.where(_dates.c.case_id == _CASE_ID)),
    ANSWERS: RowSet(tuple(_answers.c), (_answers.c.id, zero()), lambda s: s.where(_answers.c.case_id == _CASE_ID)),
    DOCUMENTS: RowSet(
        (*_documents.c, _owners.c.printed_name.label("owner_printed_name"),
         *(c.label(f"version_{c.name}") for c in _versions.c)),
        (_documents.c.id, _versions.c.version),
        lambda s: s.select_from(_documents).join(_owners, _owners.c.id == _documents.c.owner_id)
        .join(_versions, _versions.c.document_id == _documents.c.id).where(_documents.c.case_id == _CASE_ID)),
    # Who signed which step of which version (the flow's "who acts next"): every column but the signed bytes.
    SIGNATURES: RowSet(
        tuple(c for c in _signatures.c if c.name not in ("manifest", "cms", "timestamp_response")),
        (_signatures.c.id, zero()),
        lambda s: s.join(_documents, _documents.c.id == _signatures.c.document_id)
        .where(_documents.c.case_id == _CASE_ID)),
})


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


# What the page prints of a deadline stated at one moment: every field but its exact time left, of which only
# whether it runs shows (a bar on the time line), and the deadline's definition, named by its key (the regime's
# definitions are fixed for the process; the case's regime is in the state).
_FACE_FIELDS = tuple(f.name for f in fields(DeadlineStatus) if f.name not in ("deadline", "time_left"))


def clock_face(deadlines: Sequence[DeadlineStatus], blockers: Sequence[Blocker]) -> tuple[object, ...]:
    """What the case page shows of its deadlines and of what forbids administration as stated at one moment
    (`CasePageState.deadlines`): two moments with the same face print the same deadline table, the same
    blockers and, drawn at the same minute, the same time line."""
    return (tuple((d.deadline.key, d.time_left is not None, *(getattr(d, name) for name in _FACE_FIELDS))
                  for d in deadlines), tuple(blockers))


def case_page_state(session: Session, case_id: int) -> CasePageState | None:
    """The case's stored state (None: no such case): one statement, run on the unit of work's connection."""
    rows = session.connection().execute(_STATE, {"case_id": case_id}).all()  # Core: no ORM execution path
    if not rows or rows[0][0] != CASE:
        return None
    case, date, answer, document, version = (_PLACES[CASE], _PLACES[DATES], _PLACES[ANSWERS], _PLACES[DOCUMENTS],
                                             _PLACES[DOCUMENTS])
    head = rows[0]
    dates: dict[str, datetime] = {}
    answers: dict[str, bool] = {}
    documents: list[DocumentRow] = []
    versions: list[VersionRow] = []
    for index, row in enumerate(rows):
        kind = row[0]
        if kind == DATES:  # by id: the latest entry of a key wins
            dates[row[date["key"]]] = row[date["value"]]
        elif kind == ANSWERS:
            answers[row[answer["key"]]] = row[answer["answer"]]
        elif kind == DOCUMENTS:  # by document, then version
            versions.append(VersionRow(row[version["version_version"]], row[version["version_status"]],
                                       row[version["version_content"]]))
            following = rows[index + 1] if index + 1 < len(rows) else None
            if following is None or following[0] != DOCUMENTS or following[document["id"]] != row[document["id"]]:
                documents.append(DocumentRow(row[document["id"]], row[document["number"]], row[document["type_key"]],
                                             row[document["status"]], tuple(versions)))
                versions = []
    return CasePageState(
        id=head[case["id"]], reference=head[case["reference"]], regime_key=head[case["regime_key"]],
        status=head[case["status"]], site_zone=head[case["site_zone"]], documents=tuple(documents),
        dates=dates, answers=answers, digest=state_digest(rows))


def state_digest(rows: Sequence[Sequence[Any]]) -> bytes:
    """SHA-256 over every value read, in order, by its repr: the rows hold only integers, texts, aware times,
    booleans and NULLs, whose reprs are unambiguous (a text is quoted and escaped, a time names its class and
    zone, NULL is None), so two different row sets never share a digest by accident of formatting."""
    return hashlib.sha256(repr([tuple(row) for row in rows]).encode("utf-8", "surrogatepass")).digest()


def case_page_digest(session: Session, case_id: int) -> bytes | None:
    """The digest of the case's state read again (None: the case is gone)."""
    again = case_page_state(session, case_id)
    return again.digest if again is not None else None
