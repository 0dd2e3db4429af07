"""One signed history for a document or a whole case (21 CFR 11.10(e), 11.50; Annex 11 §9; ER/ES authenticity).

The audit trail is the spine: every version, submission, signature, refusal and status change was recorded
there in the same transaction as the change itself. Each event becomes one entry linked to the exact
version it concerns; signature events carry their manifestation (printed name, role, meaning, time) and
the signature's verification now. A signature row that no event records is shown as well, flagged, so
that nothing in the database is hidden by a missing event.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from edms.audit.models import AuditEvent
from edms.documents import models as dm
from edms.documents.types import DocumentType
from edms.signatures.models import Signature
from edms.signatures.presentation import Manifestation, manifestation
from edms.signatures.verification import Trust
from edms.verifier.constants import SIGNED_ACTIONS

# Who looked at or took away what: recorded like every other event, hidden from the timeline unless asked for.
ACCESS_ACTIONS = ("inspection.viewed", "inspection.downloaded")
# Actions with a kind of their own; every other event is kind "event".
KINDS = {
    "document.created": "version",
    "document.revised": "version",
    "document.submitted": "submission",
    "signature.signed": "signature",
    "signature.rejected": "rejection",
    "document.approved": "status",
    "document.rejected": "status",
    "document.withdrawn": "status",
    "document.owner_transferred": "status",
    "inspection.exported": "export",
    "inspection.viewed": "access",
    "inspection.downloaded": "access",
}


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # version, submission, signature, rejection, status, export, access, event
    document: dm.Document | None  # None for an event about the case itself
    version: int | None
    event: AuditEvent | None  # None only for a signature no event records
    signature: Manifestation | None = None
    changes: Mapping[str, object] = field(default_factory=dict)

    @property
    def seq(self) -> int | None:
        return self.event.seq if self.event else None

    @property
    def action(self) -> str:
        return self.event.action if self.event else "signature (no audit event)"

    @property
    def actor(self) -> str:
        return self.event.actor_name if self.event else (self.signature.printed_name if self.signature else "")

    @property
    def reason(self) -> str | None:
        if self.signature is not None and self.signature.rejection:
            return self.signature.comment
        return self.event.reason if self.event else None

    @property
    def unrecorded(self) -> bool:
        return self.event is None


@dataclass(frozen=True)
class HistoryFilter:
    """What part of a long history to show: one record, one kind of event, one person, a period (UTC, `until`
    excluded), and the page: the entries after the event `after_seq` (keyset paging, oldest first)."""

    document_id: int | None = None
    kind: str | None = None  # one of HISTORY_KINDS
    actor_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_seq: int | None = None
    limit: int = 100

    @property
    def narrowed(self) -> bool:
        return any(value is not None for value in (self.document_id, self.kind, self.actor_id, self.since, self.until,
                                                   self.after_seq))


HISTORY_KINDS = ("version", "submission", "signature", "rejection", "status", "export", "access", "event")


@dataclass(frozen=True)
class Timeline:
    documents: list[dm.Document]
    entries: list[Entry]
    case_id: int | None = None
    next_after: int | None = None  # the cursor of the next page, when there is one

    @property
    def signatures(self) -> list[Manifestation]:
        return [entry.signature for entry in self.entries if entry.signature is not None]

    @property
    def invalid_signatures(self) -> list[Manifestation]:
        return [item for item in self.signatures if not item.verdict.ok]


def case_documents(session: Session, case_id: int) -> list[dm.Document]:
    return list(session.scalars(select(dm.Document).where(dm.Document.case_id == case_id).order_by(dm.Document.id)))


def document_timeline(session: Session, document: dm.Document, trust: Trust | None,
                      types: Mapping[str, DocumentType], *, include_access: bool = False,
                      history: HistoryFilter | None = None) -> Timeline:
    entries, next_after = _page(session, [document], None, trust, types, include_access, history)
    return Timeline([document], entries, next_after=next_after)


def case_timeline(session: Session, case_id: int, trust: Trust | None, types: Mapping[str, DocumentType], *,
                  include_access: bool = False, history: HistoryFilter | None = None) -> Timeline:
    documents = case_documents(session, case_id)
    entries, next_after = _page(session, documents, case_id, trust, types, include_access, history)
    return Timeline(documents, entries, case_id, next_after)


def _page(session: Session, documents: Sequence[dm.Document], case_id: int | None, trust: Trust | None,
          types: Mapping[str, DocumentType], include_access: bool,
          history: HistoryFilter | None) -> tuple[list[Entry], int | None]:
    """Without a filter, the whole history (as the inspection package holds it); with one, one page of it."""
    if history is None:
        return _entries(session, documents, case_id, trust, types, include_access), None
    entries = _entries(session, documents, case_id, trust, types, include_access, history)
    if len(entries) > history.limit:
        entries = entries[:history.limit]
        return entries, entries[-1].seq
    return entries, None


def _kind_condition(kind: str) -> ColumnElement[bool]:
    if kind == "event":
        return AuditEvent.action.not_in(list(KINDS))
    return AuditEvent.action.in_([action for action, its_kind in KINDS.items() if its_kind == kind])


def _entries(session: Session, documents: Sequence[dm.Document], case_id: int | None, trust: Trust | None,
             types: Mapping[str, DocumentType], include_access: bool,
             history: HistoryFilter | None = None) -> list[Entry]:
    by_id = {str(document.id): document for document in documents}
    conditions: list[ColumnElement[bool]] = []
    if by_id:
        conditions.append((AuditEvent.object_type == "document") & AuditEvent.object_id.in_(list(by_id)))
    if case_id is not None:
        conditions.append(AuditEvent.case_id == str(case_id))
    if not conditions:
        return []
    query = select(AuditEvent).where(or_(*conditions))
    if not include_access:
        query = query.where(AuditEvent.action.not_in(ACCESS_ACTIONS))
    if history is not None:
        if history.document_id is not None:
            query = query.where(AuditEvent.object_type == "document", AuditEvent.object_id == str(history.document_id))
        if history.kind is not None:
            query = query.where(_kind_condition(history.kind))
        if history.actor_id is not None:
            query = query.where(AuditEvent.actor_id == history.actor_id)
        if history.since is not None:
            query = query.where(AuditEvent.occurred_at >= history.since)
        if history.until is not None:
            query = query.where(AuditEvent.occurred_at < history.until)
        if history.after_seq is not None:
            query = query.where(AuditEvent.seq > history.after_seq)
        query = query.limit(history.limit + 1)
    events = list(session.scalars(query.order_by(AuditEvent.seq)))
    signatures = {row.signature_id: row for row in session.scalars(
        select(Signature).where(Signature.document_id.in_([document.id for document in documents])).order_by(Signature.id)
    )} if documents else {}
    entries = []
    for event in events:
        changes = _changes(event)
        document = by_id.get(event.object_id) if event.object_type == "document" and event.object_id is not None else None
        shown = None
        if event.action in SIGNED_ACTIONS:
            signature_id = ((changes.get("signature") or {}).get("new") or {}).get("signature_id")
            row = signatures.pop(signature_id, None) if signature_id is not None else None
            if row is not None:
                shown = manifestation(session, row, trust, types.get(document.type_key) if document else None)
        entries.append(Entry(event.occurred_at, KINDS.get(event.action, "event"), document, event.document_version,
                             event, shown, changes))
    documents_by_key = {document.id: document for document in documents}
    if history is not None and (history.narrowed or len(events) > history.limit):
        # A signature no event records has no place in a filtered or partial page: the first page of the whole
        # history shows it, and so does the inspection package.
        signatures = {}
    for row in signatures.values():
        document = documents_by_key[row.document_id]
        shown = manifestation(session, row, trust, types.get(document.type_key))
        entries.append(Entry(row.signed_at, "rejection" if shown.rejection else "signature", document, row.version,
                             None, shown))
    entries.sort(key=lambda entry: (entry.at, entry.seq or 0))
    return entries


def _changes(event: AuditEvent) -> dict:
    if not event.changes:
        return {}
    try:
        parsed = json.loads(event.changes)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
