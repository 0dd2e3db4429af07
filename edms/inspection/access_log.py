"""Who looked at what, when: every page and file an inspector opens goes into the audit trail.

A successful GET by an inspector becomes `inspection.viewed`, or `inspection.downloaded` for a file, naming
the record (document and version, case, signature) where the URL names one, the path, and for a file its
name, size and SHA-256. The web layer (edms.web.access_log) says what was opened; this module says how it
is recorded, in the request's own unit of work.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from edms.audit import AuditContext
from edms.audit.record import append
from edms.documents.models import Document

VIEWED = "inspection.viewed"
DOWNLOADED = "inspection.downloaded"
MAX_OBJECT_ID = 80  # the audit_event.object_id column


@dataclass(frozen=True)
class Access:
    """One page or file an inspector opened: the route's arguments, and the file if one was sent."""

    path: str
    endpoint: str
    view_args: Mapping[str, object]
    file: Mapping[str, object] | None = None


def _subject(session: Session, access: Access) -> tuple[str, str, int | None, str | None]:
    """(object_type, object_id, document_version, case_id) of the record the URL names."""
    args = access.view_args
    if "document_id" in args:
        case_id = session.connection().execute(_CASE_OF_DOCUMENT, {"id": args["document_id"]}).scalar()
        number = args.get("number")
        return ("document", str(args["document_id"]), number if isinstance(number, int) else None,
                None if case_id is None else str(case_id))
    if "case_id" in args:
        return "case", str(args["case_id"]), None, str(args["case_id"])
    if "signature_id" in args:
        return "signature", str(args["signature_id"]), None, None
    return "page", access.endpoint[:MAX_OBJECT_ID], None, None


# Built once: read on every record that names a document, on the session's connection (no ORM execution).
_CASE_OF_DOCUMENT = select(Document.case_id).where(Document.id == bindparam("id"))


@dataclass(frozen=True)
class Described:
    """What the access record will say: everything of its event but its place in the chain."""

    action: str
    object_type: str
    object_id: str
    document_version: int | None
    case_id: str | None
    changes: dict[str, dict[str, object]]


def describe(session: Session, access: Access) -> Described:
    """Read what the record names (in the request's transaction, before the chain's lock is taken)."""
    object_type, object_id, version, case_id = _subject(session, access)
    changes: dict[str, dict[str, object]] = {"path": {"old": None, "new": access.path},
                                             "endpoint": {"old": None, "new": access.endpoint}}
    if access.file is not None:
        changes["file"] = {"old": None, "new": dict(access.file)}
    return Described(DOWNLOADED if access.file is not None else VIEWED, object_type, object_id, version, case_id,
                     changes)


def record_described(session: Session, ctx: AuditContext, described: Described) -> None:
    # Written on every read an inspector makes: one Core INSERT, the event `record` would write (edms.audit.record).
    append(session, ctx, described.action, described.object_type, described.object_id,
           document_version=described.document_version, case_id=described.case_id, changes=described.changes)


def record_access(session: Session, ctx: AuditContext, access: Access) -> None:
    record_described(session, ctx, describe(session, access))
