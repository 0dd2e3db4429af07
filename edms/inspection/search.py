"""Finding any record: one query shared by the search page, the API and the tests; keyset pages by document id.

Criteria combine with AND. Number, type, case and status use indexed columns of `documents`; signer,
meaning and dates use the indexed `signatures.document_id`; product, lot and patient reference are field
values of any version or the indexed columns of the document's case; free text matches the title and the
field values of any version, ignoring case.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.orm import Session

from edms.cases.models import Case
from edms.documents import models as dm
from edms.errors import N_, UserError
from edms.signatures.models import Signature
from edms.timeutil import isoformat_utc, require_aware
from edms.users.models import User
from edms.users.usernames import normalise_username
from edms.workflow.visibility import visible_documents

PAGE_SIZE = 50
MAX_PAGE = 200
# Fields that identify a case; searched as exact field values of the documents (ignoring case).
CASE_FIELDS = ("product", "lot", "patient_ref")
PARAMETERS = ("number", "type", "case", *CASE_FIELDS, "status", "signer", "meaning", "from", "to", "q")
_LIKE_ESCAPE = "\\"


class SearchError(UserError):
    """A criterion that cannot be understood; the message names it."""


@dataclass(frozen=True)
class SearchQuery:
    number: str | None = None
    type_key: str | None = None
    case_id: int | None = None
    product: str | None = None
    lot: str | None = None
    patient_ref: str | None = None
    status: str | None = None
    signer: str | None = None
    meaning: str | None = None
    since: datetime | None = None  # inclusive, UTC
    until: datetime | None = None  # exclusive, UTC
    text: str | None = None

    @property
    def empty(self) -> bool:
        return all(value is None for value in asdict(self).values())

    def describe(self) -> dict[str, object]:
        """The criteria as recorded in the audit trail: set values only, times in UTC."""
        return {name: isoformat_utc(value) if isinstance(value, datetime) else value
                for name, value in asdict(self).items() if value is not None}


def _text(params: Mapping[str, str], name: str) -> str | None:
    value = (params.get(name) or "").strip()
    return value[:200] or None


def _day(value: str, zone: str, name: str, *, end: bool) -> datetime:
    """A date is a whole day in the searcher's zone; a date-time must carry its offset."""
    try:
        if "T" not in value:
            day = date.fromisoformat(value) + timedelta(days=1 if end else 0)
            return require_aware(datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)))
        return require_aware(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except (ValueError, OverflowError):  # OverflowError: the day after 9999-12-31
        raise SearchError(N_("'%(name)s' must be a date (YYYY-MM-DD) or a date and time with its offset."),
                          name=name) from None


def parse_query(params: Mapping[str, str], zone: str, find_case_id: Callable[[str], int | None] | None = None
                ) -> SearchQuery:
    """The criteria from query parameters. A case is named by its reference (CASE-2026-0001) or its number;
    `find_case_id` (edms.cases.references) resolves a reference, without it only numbers are understood."""
    case = _text(params, "case")
    case_id = None
    if case is not None:
        if case.isascii() and case.isdigit() and len(case) <= 18:
            case_id = int(case)
        else:
            case_id = find_case_id(case) if find_case_id is not None else None
            if case_id is None:
                raise SearchError(N_("'%(name)s': there is no case with the reference '%(reference)s'."), name="case",
                                  reference=case)
    since, until = _text(params, "from"), _text(params, "to")
    return SearchQuery(
        number=_text(params, "number"),
        type_key=_text(params, "type"),
        case_id=case_id,
        product=_text(params, "product"),
        lot=_text(params, "lot"),
        patient_ref=_text(params, "patient_ref"),
        status=_text(params, "status"),
        signer=_text(params, "signer"),
        meaning=_text(params, "meaning"),
        since=_day(since, zone, "from", end=False) if since else None,
        until=_day(until, zone, "to", end=True) if until else None,
        text=_text(params, "q"),
    )


@dataclass(frozen=True)
class SignatureSummary:
    kind: str
    meaning: str
    step: str
    printed_name: str
    signed_at: datetime


@dataclass(frozen=True)
class Hit:
    document: dm.Document
    version: dm.DocumentVersion  # the current one
    signatures: list[SignatureSummary]  # of the current version, in signing order
    signature_count: int  # over all versions


@dataclass(frozen=True)
class Results:
    hits: list[Hit]
    next_before: int | None  # pass back as `before` for the next (older) page


def _like(value: str) -> str:
    escaped = value.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("%", f"{_LIKE_ESCAPE}%").replace("_", f"{_LIKE_ESCAPE}_")
    return escaped.lower()


def _content_matches(pattern: str):
    """Some version of the document has content matching the LIKE `pattern` (already lower-case)."""
    return exists().where(dm.DocumentVersion.document_id == dm.Document.id,
                          func.lower(dm.DocumentVersion.content).like(pattern, escape=_LIKE_ESCAPE))


def _field_equals(name: str, value: str):
    # Content is RFC 8785 JSON: no whitespace, so a field's value appears exactly as `"name":"value"`.
    literal = json.dumps(value, ensure_ascii=False)
    return _content_matches(f'%{_like(json.dumps(name))}:{_like(literal)}%')


def _case_field_condition(name: str, value: str):
    """The document's own field, or the case it belongs to, has this value."""
    column = getattr(Case, name)
    return or_(_field_equals(name, value),
               dm.Document.case_id.in_(select(Case.id).where(column == value)))


def _signer_ids(session: Session, signer: str) -> list[int]:
    name = signer.strip()
    return list(session.scalars(select(User.id).where(or_(
        User.username == normalise_username(name),
        func.lower(User.printed_name).like(f"%{_like(name)}%", escape=_LIKE_ESCAPE),
    ))))


def conditions(session: Session, query: SearchQuery) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if query.number:
        found.append(func.upper(dm.Document.number).like(f"{_like(query.number).upper()}%", escape=_LIKE_ESCAPE))
    if query.type_key:
        found.append(dm.Document.type_key == query.type_key)
    if query.case_id is not None:
        found.append(dm.Document.case_id == query.case_id)
    if query.status:
        found.append(dm.Document.status == query.status)
    for name in CASE_FIELDS:
        value = getattr(query, name)
        if value:
            found.append(_case_field_condition(name, value))
    if query.text:
        pattern = f"%{_like(query.text)}%"
        found.append(or_(func.lower(dm.Document.title).like(pattern, escape=_LIKE_ESCAPE), _content_matches(pattern)))
    signed: list[ColumnElement[bool]] = []
    if query.signer:
        signed.append(Signature.signer_id.in_(_signer_ids(session, query.signer)))
    if query.meaning:
        signed.append(Signature.meaning == query.meaning)
    if signed or query.since or query.until:
        found.append(_activity(signed, query))
    return found


def _activity(signed: list, query: SearchQuery):
    """With a signer or meaning, a matching signature in the date range; otherwise any version created or
    signature made in it."""
    def in_range(column) -> list:
        bounds = []
        if query.since is not None:
            bounds.append(column >= query.since)
        if query.until is not None:
            bounds.append(column < query.until)
        return bounds

    signature = exists().where(Signature.document_id == dm.Document.id, *signed, *in_range(Signature.signed_at))
    if signed:
        return signature
    version = exists().where(dm.DocumentVersion.document_id == dm.Document.id, *in_range(dm.DocumentVersion.created_at))
    return or_(signature, version)


def search(session: Session, query: SearchQuery, *, before: int | None = None, limit: int = PAGE_SIZE,
           reader: User | None = None) -> Results:
    """One page of matching documents, newest first; `before` is the `next_before` of the previous page. Only
    the records of the cases `reader` may see (edms.workflow.visibility), when a reader is named."""
    limit = max(1, min(limit, MAX_PAGE))
    statement = select(dm.Document).where(*conditions(session, query))
    if reader is not None:
        statement = statement.where(visible_documents(reader))
    if before is not None:
        statement = statement.where(dm.Document.id < before)
    documents = list(session.scalars(statement.order_by(dm.Document.id.desc()).limit(limit + 1)))
    shown = documents[:limit]
    return Results(_hits(session, shown), shown[-1].id if len(documents) > limit else None)


def _hits(session: Session, documents: list[dm.Document]) -> list[Hit]:
    if not documents:
        return []
    rows = session.execute(
        select(Signature.document_id, Signature.version, Signature.kind, Signature.meaning, Signature.step,
               Signature.manifest, Signature.signed_at)
        .where(Signature.document_id.in_([document.id for document in documents])).order_by(Signature.id)
    ).all()
    counts: dict[int, int] = {}
    current: dict[int, list[SignatureSummary]] = {}
    latest = {document.id: document.current_version for document in documents}
    for row in rows:
        counts[row.document_id] = counts.get(row.document_id, 0) + 1
        if row.version == latest[row.document_id]:
            current.setdefault(row.document_id, []).append(
                SignatureSummary(row.kind, row.meaning, row.step, _printed_name(row.manifest), row.signed_at))
    return [Hit(document, document.latest, current.get(document.id, []), counts.get(document.id, 0))
            for document in documents]


def _printed_name(manifest: bytes) -> str:
    # The name as signed (names can change later); a damaged manifest shows as such, verification says why.
    try:
        return str(json.loads(manifest)["signer_printed_name"])
    except (ValueError, KeyError, TypeError):
        return "?"
