"""`record()`: append one event to the chain inside the caller's transaction; `append()`: the same event written
by one Core INSERT, for the records written on every read (an inspector's access records, issue 15)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import event, insert, select, text
from sqlalchemy.orm import Session, SessionTransaction

from edms import __version__
from edms.audit.chain import GENESIS_HASH, canonical_bytes, canonical_changes, event_hash
from edms.audit.context import AuditContext
from edms.audit.models import AuditEvent
from edms.db import shares_commit
from edms.timeutil import isoformat_utc, utc_now
from edms.verifier import audit_log

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
    _note_head(session, (event.seq, event.hash))
    return event


def append(session: Session, ctx: AuditContext, action: str, object_type: str, object_id: str | int | None = None, *,
           changes: Mapping[str, Any] | None = None, reason: str | None = None, document_version: int | None = None,
           case_id: str | int | None = None) -> int:
    """`record()` without the ORM: the same event (the same columns, hash and link, `test_audit_append.py`) written
    by one Core INSERT in the caller's transaction; its seq. The chain's head is read (under the chain's lock) only
    when this transaction does not know it yet: an event this session's transaction appended, or one that a session
    released into the same shared transaction (edms.application.write_turn), is the head, since the transaction
    holds the chain's lock until it ends (SQLite: its write lock; PostgreSQL: the advisory lock, kept by a released
    SAVEPOINT). The witness and automatic checkpoints learn of it by `appended_rows`."""
    canonical = canonical_changes(changes)
    head = _known_head(session)
    if head is None:
        _lock_chain(session)
        found = session.connection().execute(_HEAD_QUERY).first()
        head = (found.seq, found.hash) if found else (0, GENESIS_HASH)
    occurred_at = utc_now()  # the server's clock, read under the chain's lock
    row: dict[str, Any] = {
        "seq": head[0] + 1, "occurred_at": occurred_at, "actor_id": ctx.user_id, "actor_name": ctx.user_name,
        "action": action, "object_type": object_type, "object_id": None if object_id is None else str(object_id),
        "document_version": document_version, "case_id": None if case_id is None else str(case_id),
        "changes": canonical, "reason": reason, "request_id": ctx.request_id, "client_addr": ctx.client_addr,
        "app_version": __version__, "prev_hash": head[1],
    }
    leaf = canonical_bytes({**row, "occurred_at": isoformat_utc(occurred_at)})
    row["hash"] = audit_log.event_hash(leaf)
    seq: int = row["seq"]
    session.connection().execute(_INSERT, row)
    _note_head(session, (seq, row["hash"]))
    root = session.get_transaction()
    noted: _Appended | None = session.info.get(_APPENDED)
    if noted is None or noted[0] is not root:
        noted = session.info[_APPENDED] = (root, {}, {})
    noted[1][seq] = leaf
    noted[2][seq] = session.get_nested_transaction() or root
    return seq


_HEAD_QUERY = select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
_INSERT = insert(AuditEvent.__table__)  # type: ignore[arg-type]
# session.info, each (the session's root transaction, value), so that nothing of an earlier transaction is taken:
_HEAD = "edms.audit.head"  # (seq, hash) of the newest event this transaction appended; None: read it again
_APPENDED = "edms.audit.appended"  # {seq: leaf bytes} of the events `append` wrote, {seq: innermost transaction then}
_SHARED_HEAD = "edms.audit.shared_head"  # a shared transaction's (edms.db.shares_commit): its released sessions' head


def appended_rows(session: Session) -> dict[int, bytes]:
    """The events `append` wrote in the transaction `session` is committing (or in), by seq: their leaves (the
    canonical bytes their hashes cover). For the witness and the automatic checkpoints, which see the ORM's events
    in its flushes."""
    noted = session.info.get(_APPENDED)
    return noted[1] if noted is not None and noted[0] is session.get_transaction() else {}


_Appended = tuple[SessionTransaction | None, dict[int, bytes], dict[int, SessionTransaction | None]]


def _note_head(session: Session, head: tuple[int, str] | None) -> None:
    session.info[_HEAD] = (session.get_transaction(), head)


def _known_head(session: Session) -> tuple[int, str] | None:
    noted: tuple[SessionTransaction | None, tuple[int, str] | None] | None = session.info.get(_HEAD)
    if noted is not None and noted[0] is session.get_transaction():
        return noted[1]
    shared = shares_commit(session)
    kept: tuple[int, str] | None = None if shared is None else shared.get(_SHARED_HEAD)  # type: ignore[assignment]
    return kept


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    """Whether `transaction` is `ancestor` or nested inside it."""
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous: SessionTransaction) -> None:
    # A SAVEPOINT rolled back may have held events and, on PostgreSQL, the chain's lock: read the head again. The
    # events appended before it are still the transaction's: the witness and the checkpoints must still see them.
    noted: _Appended | None = session.info.get(_APPENDED)
    if previous.nested and noted is not None:
        for seq in [seq for seq, place in noted[2].items() if _within(place, previous)]:
            del noted[1][seq], noted[2][seq]
    else:
        session.info.pop(_APPENDED, None)
    if session.get_transaction() is None:
        session.info.pop(_HEAD, None)
    else:
        _note_head(session, None)


@event.listens_for(Session, "after_commit")
def _leave_head(session: Session) -> None:
    # A session's release of its SAVEPOINT in a shared transaction: the next session of it starts from its head.
    if session.in_nested_transaction():
        return
    shared = shares_commit(session)
    noted = session.info.pop(_HEAD, None)
    if shared is None or noted is None or noted[0] is not session.get_transaction():
        return
    if noted[1] is None:
        shared.pop(_SHARED_HEAD, None)
    else:
        shared[_SHARED_HEAD] = noted[1]


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
