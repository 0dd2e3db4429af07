"""Signed, time-stamped checkpoints of the audit chain's head (21 CFR 11.10(e), ER/ES authenticity).

The hash chain shows a changed, removed or reordered event, unless someone with database access
recomputes every later hash or cuts off the tail. A checkpoint signs the head (seq, hash, time) with the
system key as a detached CMS and has the signature time-stamped (RFC 3161). The keys live outside the
database, so a rewritten or truncated chain no longer matches its checkpoints. One is made every
`audit_checkpoint_every` events (after the commit that crosses the interval) and on demand.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import rfc8785
from sqlalchemy import event, func, inspect, select
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from edms.audit.context import AuditContext
from edms.audit.integrity import VerificationRun
from edms.audit.models import AuditCheckpoint, AuditEvent
from edms.audit.record import _lock_chain, appended_rows, record
from edms.crypto.cms import signature_value, verify_detached
from edms.crypto.tsa import TimestampError, token_from_response, verify_timestamp
from edms.db import after_shared_commit, shares_commit, transaction
from edms.errors import N_, UserError
from edms.timeutil import isoformat_utc, utc_now
from edms.verifier.constants import CHECKPOINT_TYPE

if TYPE_CHECKING:
    from edms.pki import TrustAnchors

log = logging.getLogger("edms")

CHECKPOINT_ACTION = "audit.checkpointed"
PAYLOAD_TYPE = CHECKPOINT_TYPE
PAYLOAD_VERSION = 1
# session.info keys: the session appended an event at a multiple of the interval / is itself making a checkpoint.
_CROSSED = "edms.audit.checkpoint_due"
_CHECKPOINTING = "edms.audit.checkpointing"
_NO_PKI = N_("the signatures cannot be checked: the organisation PKI is not available (run `edms init` or restore it)")
_NOT_RECORDED = N_("no audit.checkpointed event records it (the event was removed, or the row was written outside edms)")


class Signer(Protocol):
    """What signs checkpoints (edms.pki.SystemSigner): the system key, a TSA, and what verifies both."""

    trust: TrustAnchors

    def sign(self, data: bytes) -> bytes: ...

    def timestamp(self, data_digest: bytes) -> bytes: ...


class CheckpointError(UserError):
    pass


class StoredCheckpoint(Protocol):
    """The columns of one `audit_checkpoint` row, as the verification reads them (plain rows, not ORM objects)."""

    @property
    def number(self) -> int: ...
    @property
    def seq(self) -> int: ...
    @property
    def head_hash(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def signature(self) -> bytes: ...
    @property
    def timestamp_token(self) -> bytes: ...
    @property
    def timestamped_at(self) -> datetime: ...


def checkpoint_payload(number: int, seq: int, head_hash: str, created_at: datetime) -> bytes:
    """The exact bytes signed: RFC 8785 JSON rebuilt from the stored columns, so changing any of them
    breaks the signature."""
    return rfc8785.dumps({
        "type": PAYLOAD_TYPE,
        "version": PAYLOAD_VERSION,
        "number": number,
        "seq": seq,
        "head_hash": head_hash,
        "created_at": isoformat_utc(created_at),
    })


def signature_digest(signature: bytes) -> bytes:
    """What the time-stamp covers: SHA-256 of the CMS signature value (as CAdES-T does)."""
    return hashlib.sha256(signature_value(signature)).digest()


def create_checkpoint(session: Session, ctx: AuditContext, signer: Signer) -> AuditCheckpoint:
    """Sign and time-stamp the current head in the caller's transaction, and record that in the chain.

    Holds the chain's lock meanwhile, so the head cannot move and checkpoint numbers stay consecutive.
    Both the signature and the time-stamp are verified before anything is stored.
    """
    _lock_chain(session)
    head = session.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)).first()
    if head is None:
        raise CheckpointError(N_("The audit trail is empty: there is nothing to sign yet."))
    number = (session.scalar(select(func.max(AuditCheckpoint.number))) or 0) + 1
    created_at = utc_now()
    payload = checkpoint_payload(number, head.seq, head.hash, created_at)
    signature = signer.sign(payload)
    digest = signature_digest(signature)
    try:
        token = token_from_response(signer.timestamp(digest))
    except TimestampError as exc:
        raise CheckpointError(N_("No time-stamp could be obtained for the checkpoint: %(reason)s"), reason=str(exc)) from exc
    stamp = verify_timestamp(token, digest, signer.trust.tsa_roots)
    if not stamp.ok or stamp.gen_time is None:  # a valid stamp always has its time
        raise CheckpointError(N_("The time-stamp for the checkpoint does not verify: %(reason)s"), reason=stamp.reason)
    signed = verify_detached(signature, payload, signer.trust.roots, at=stamp.gen_time)
    if not signed.ok:
        raise CheckpointError(N_("The checkpoint signature does not verify: %(reason)s"), reason=signed.reason)
    checkpoint = AuditCheckpoint(
        number=number, seq=head.seq, head_hash=head.hash, created_at=created_at,
        signature=signature, timestamp_token=token, timestamped_at=stamp.gen_time,
    )
    session.add(checkpoint)
    session.flush()
    record(session, ctx, CHECKPOINT_ACTION, "audit_checkpoint", number, changes={
        "seq": {"old": None, "new": head.seq},
        "head_hash": {"old": None, "new": head.hash},
        "timestamped_at": {"old": None, "new": isoformat_utc(stamp.gen_time)},
    })
    return checkpoint


def create_checkpoint_now(factory: sessionmaker[Session], ctx: AuditContext, signer: Signer) -> AuditCheckpoint:
    """A checkpoint in a transaction of its own (the CLI, the admin page, the automatic trigger)."""
    with transaction(factory) as session:
        session.info[_CHECKPOINTING] = True
        return create_checkpoint(session, ctx, signer)


def enable_automatic_checkpoints(factory: sessionmaker[Session], *, every: int, signer: Callable[[], Signer]) -> None:
    """After a commit that appended an event whose seq is a multiple of `every`, checkpoint the head.

    It runs after the commit, in its own transaction: the change and its event are already durable, and
    a checkpoint that fails (PKI missing, TSA down) is logged and never undoes them. `signer` is called
    only then, so the keys are opened on first use.
    """
    if every <= 0:
        return

    @event.listens_for(factory, "after_flush")
    def _note_crossing(session: Session, _context: Any) -> None:
        crossing = [item for item in session.new if isinstance(item, AuditEvent) and item.seq % every == 0]
        if crossing:
            session.info.setdefault(_CROSSED, []).extend(crossing)

    @event.listens_for(factory, "after_soft_rollback")
    def _forget_crossing(session: Session, previous: SessionTransaction) -> None:
        # A SAVEPOINT's rollback keeps the crossings flushed before it: only those it undid are no longer persistent.
        if not previous.nested:
            session.info.pop(_CROSSED, None)

    @event.listens_for(factory, "after_commit")
    def _checkpoint(session: Session) -> None:
        # Also fired when a SAVEPOINT is released: only the outermost commit makes the events durable.
        if session.in_nested_transaction():
            return
        crossed = (any(inspect(item).persistent for item in session.info.pop(_CROSSED, []))
                   or any(seq % every == 0 for seq in appended_rows(session)))
        if not crossed or session.info.get(_CHECKPOINTING):
            return
        shared = shares_commit(session)
        if shared is not None:  # durable only with the shared transaction's COMMIT: checkpointed after it
            shared[_CROSSED] = True
            return
        _checkpoint_now()

    def _checkpoint_shared(shared: dict[str, object]) -> None:
        if shared.get(_CROSSED):
            _checkpoint_now()

    after_shared_commit(factory, _checkpoint_shared)

    def _checkpoint_now() -> None:
        try:
            checkpoint = create_checkpoint_now(factory, AuditContext.system("edms automatic checkpoint"), signer())
        except Exception:  # noqa: BLE001 (the committed change stands; `edms verify` shows the unsigned tail)
            log.exception("the automatic audit checkpoint failed; run `edms checkpoint` once the cause is fixed")
        else:
            log.info("audit checkpoint #%s signs seq %s", checkpoint.number, checkpoint.seq)


def check_checkpoints(run: VerificationRun) -> None:
    """Every checkpoint: consecutive numbers, a valid system signature and time-stamp over exactly its
    columns, and the chain still holding the hash it signed at its seq."""
    trust: TrustAnchors | None = run.options.get("trust")
    end: int | None = run.state.get("audit_event.end")
    if end is None:
        end = run.connection.scalar(select(func.coalesce(func.max(AuditEvent.seq), 0))) or 0
    recorded = {
        object_id: seq for object_id, seq in run.connection.execute(
            select(AuditEvent.object_id, AuditEvent.seq).where(AuditEvent.action == CHECKPOINT_ACTION)
        )
    }
    expected, previous_seq, last_number = 1, 0, 0
    statement = select(AuditCheckpoint).order_by(AuditCheckpoint.number)
    batch_size = run.options.get("batch_size", 500)
    while True:
        rows = run.connection.execute(statement.where(AuditCheckpoint.number > last_number).limit(batch_size)).all()
        if not rows:
            break
        run.examined("audit_checkpoint", len(rows))
        if trust is None and last_number == 0:
            run.problem("audit_checkpoint", "*", _NO_PKI)
        for checkpoint in rows:
            key = f"#{checkpoint.number}"
            if checkpoint.number != expected:
                missing = f"#{expected}" if checkpoint.number == expected + 1 else f"#{expected}–#{checkpoint.number - 1}"
                if expected == 1:
                    run.problem("audit_checkpoint", missing, N_("missing: the checkpoints do not start at #1 (removed)"))
                else:
                    run.problem("audit_checkpoint", missing,
                                N_("missing: checkpoint #%(before)s is followed by #%(after)s (removed)"),
                                before=expected - 1, after=checkpoint.number)
            # A checkpoint whose signature fails says nothing reliable about the chain: compare only authentic ones.
            if trust is None or _check_signature(run, checkpoint, trust):
                _check_against_chain(run, checkpoint, end, previous_seq)
            if recorded.pop(str(checkpoint.number), None) is None:
                run.problem("audit_checkpoint", key, _NOT_RECORDED)
            expected, previous_seq, last_number = checkpoint.number + 1, max(previous_seq, checkpoint.seq), checkpoint.number
    for number, seq in sorted(recorded.items(), key=lambda item: item[1]):
        run.problem("audit_checkpoint", f"#{number}", N_("recorded in the audit trail at seq %(seq)s but missing (removed)"),
                    seq=seq)


def _check_against_chain(run: VerificationRun, checkpoint: StoredCheckpoint, end: int, previous_seq: int) -> None:
    key = f"#{checkpoint.number}"
    if checkpoint.seq > end:
        run.problem("audit_checkpoint", key,
                    N_("the chain ends at seq %(end)s but this checkpoint signed seq %(seq)s (tail truncated)"),
                    end=end, seq=checkpoint.seq)
        return
    if checkpoint.seq < previous_seq:
        run.problem("audit_checkpoint", key, N_("signs seq %(seq)s, before seq %(before)s signed by an earlier checkpoint"),
                    seq=checkpoint.seq, before=previous_seq)
    stored = run.connection.scalar(select(AuditEvent.hash).where(AuditEvent.seq == checkpoint.seq))
    if stored is not None and stored != checkpoint.head_hash:
        run.problem("audit_event", f"seq {checkpoint.seq}",
                    N_("does not match checkpoint #%(number)s: the chain up to here was rewritten after it was signed"),
                    number=checkpoint.number)


def _check_signature(run: VerificationRun, checkpoint: StoredCheckpoint, trust: TrustAnchors) -> bool:
    """Report what is wrong with the signature, then with the time-stamp; True if the signed content is authentic."""
    key = f"#{checkpoint.number}"
    try:
        digest = signature_digest(checkpoint.signature)
    except ValueError:
        run.problem("audit_checkpoint", key,
                    N_("the signature is not a well-formed CMS structure (changed after it was written)"))
        return False
    stamp = verify_timestamp(checkpoint.timestamp_token, digest, trust.tsa_roots)
    payload = checkpoint_payload(checkpoint.number, checkpoint.seq, checkpoint.head_hash, checkpoint.created_at)
    signed = verify_detached(checkpoint.signature, payload, trust.roots,
                             at=stamp.gen_time if stamp.ok else checkpoint.timestamped_at)
    authentic = signed.ok and signed.signer_cert == trust.system_cert
    if not signed.ok:
        run.problem("audit_checkpoint", key, N_("system signature invalid: %(reason)s (changed after it was signed)"),
                    reason=signed.reason)
    elif not authentic:
        run.problem("audit_checkpoint", key, N_("signed by %(signer)s, not by the system's own key"),
                    signer=signed.signer_cert.subject.rfc4514_string() if signed.signer_cert else "an unreadable certificate")
    if not stamp.ok:
        run.problem("audit_checkpoint", key, N_("time-stamp invalid: %(reason)s"), reason=stamp.reason)
    elif stamp.gen_time is not None and stamp.gen_time != checkpoint.timestamped_at:  # a valid stamp has its time
        run.problem("audit_checkpoint", key, N_("the stored time-stamp time %(stored)s differs from the token's %(token)s"),
                    stored=isoformat_utc(checkpoint.timestamped_at), token=isoformat_utc(stamp.gen_time))
    return authentic
