"""`record()`: append one event to the chain inside the caller's transaction."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from edms import __version__
from edms.audit.chain import GENESIS_HASH, canonical_changes, event_hash
from edms.audit.context import AuditContext
from edms.audit.models import AuditEvent
from edms.timeutil import utc_now

# Arbitrary constant naming the chain's lock on PostgreSQL.
CHAIN_LOCK_KEY = 0x4544_4D53


def record(
    session: Session,
    ctx: AuditContext,
    action: str,
    object_type: str,
    object_id: str | int | None = None,
    *,
    changes: Mapping[str, Any] | None = None,
    reason: str | None = None,
    document_version: int | None = None,
    case_id: str | int | None = None,
) -> AuditEvent:
    """Write one audit event in the same transaction as the change it describes.

    `changes` maps a field name to `{"old": ..., "new": ...}`. The event commits or rolls back with the
    caller's transaction, so there is never a change without its event nor an event without its change.
    """
    # Everything of the event that does not depend on the chain is made before its lock is taken; the time is
    # read under it (the chain's times never go backwards).
    canonical = canonical_changes(changes)
    _lock_chain(session)
    head = session.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)).first()
    event = AuditEvent(
        seq=(head.seq + 1) if head else 1,
        occurred_at=utc_now(),  # the server's clock, never the client's
        actor_id=ctx.user_id,
        actor_name=ctx.user_name,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        document_version=document_version,
        case_id=None if case_id is None else str(case_id),
        changes=canonical,
        reason=reason,
        request_id=ctx.request_id,
        client_addr=ctx.client_addr,
        app_version=__version__,
        prev_hash=head.hash if head else GENESIS_HASH,
    )
    event.hash = event_hash(event.hashed_fields())
    session.add(event)
    session.flush()
    return event


def _lock_chain(session: Session) -> None:
    # Serialise appends across processes: PostgreSQL holds this lock until commit; SQLite connections
    # already hold the database write lock from BEGIN IMMEDIATE.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Field-by-field changes between two snapshots, for the `changes` of an event."""
    return {
        name: {"old": old.get(name), "new": new.get(name)}
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name)
    }
