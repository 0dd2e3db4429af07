"""Signed tree heads of the audit log, appended to a witness outside the database (WITNESS, 21 CFR 11.10(e)).

The audit events are the leaves of a Merkle tree (RFC 9162, `edms.verifier.merkle`). After every commit
that appended events, the head of that tree (size, root hash, time) is signed with the system key and
appended as one line of JSON to the witness file: a file on a volume the database administrator does not
control, shared by every app node (`witness_file`, EDMS_WITNESS_FILE). Each line also carries the
frontier of its tree (the roots of its perfect subtrees), so the next head needs only the events after it.
Deleting or rewriting any witnessed event, the newest included, no longer matches the witness
(`edms.audit.witness_check`). The format is published in docs/audit-log-format.md.
"""
from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import rfc8785
from sqlalchemy import event, inspect, text
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from edms.audit.chain import canonical_bytes
from edms.audit.integrity import batch_leaves, chain_rows_sql
from edms.audit.models import AuditEvent
from edms.audit.record import appended_rows
from edms.db import after_shared_commit, reading, shares_commit
from edms.timeutil import isoformat_utc, parse_utc, utc_now
from edms.verifier.constants import TREE_HEAD_TYPE
from edms.verifier.merkle import Frontier, leaf_hash

log = logging.getLogger("edms")

TREE_HEAD_VERSION = 1
_APPENDED = "edms.audit.witness_due"
_LEAVES = "edms.audit.witness_leaves"  # session.info: [(event, seq, leaf bytes)] flushed by this unit of work
_SHARED_LEAVES = "edms.audit.witness_shared_leaves"  # a shared transaction's (edms.db.shares_commit): {seq: leaf bytes}
_SHARED_READ_LOG = "edms.audit.witness_read_log"  # ... one of its sessions could not name its own leaves
_BATCH = 5000
_TAIL_CHUNK = 4096


class HeadSigner(Protocol):
    def sign(self, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class TreeHead:
    """One line of the witness: the signed head and the frontier it was computed from."""

    tree_size: int
    root_hash: str
    timestamp: datetime
    signature: bytes
    frontier: tuple[str, ...] = ()

    def payload(self) -> bytes:
        return tree_head_payload(self.tree_size, self.root_hash, self.timestamp)

    def to_line(self) -> bytes:
        return json.dumps({
            "type": TREE_HEAD_TYPE, "version": TREE_HEAD_VERSION, "tree_size": self.tree_size,
            "root_hash": self.root_hash, "timestamp": isoformat_utc(self.timestamp),
            "signature": base64.b64encode(self.signature).decode("ascii"), "frontier": list(self.frontier),
        }, sort_keys=True, separators=(",", ":")).encode("ascii") + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> TreeHead:
        """ValueError (or KeyError, TypeError) when the line is not a tree head edms wrote."""
        data: dict[str, Any] = json.loads(line.decode("utf-8"))
        if data.get("type") != TREE_HEAD_TYPE or data.get("version") != TREE_HEAD_VERSION:
            raise ValueError("not an edms tree head")
        size, root, frontier = data["tree_size"], data["root_hash"], data.get("frontier", [])
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError("tree_size is not a count")
        if not isinstance(root, str) or len(bytes.fromhex(root)) != 32:
            raise ValueError("root_hash is not a SHA-256")
        if not isinstance(frontier, list) or not all(isinstance(node, str) for node in frontier):
            raise ValueError("frontier is not a list of hashes")
        return cls(size, root, parse_utc(data["timestamp"]), base64.b64decode(data["signature"], validate=True),
                   tuple(frontier))

    def resume(self) -> Frontier:
        """The tree this head signed, ready to take the next leaves."""
        frontier = Frontier(self.tree_size, [bytes.fromhex(node) for node in self.frontier])
        if frontier.root().hex() != self.root_hash:
            raise ValueError("the frontier does not give the signed root hash")
        return frontier


def tree_head_payload(tree_size: int, root_hash: str, timestamp: datetime) -> bytes:
    """The exact bytes signed (RFC 8785 JSON)."""
    return rfc8785.dumps({"type": TREE_HEAD_TYPE, "version": TREE_HEAD_VERSION, "tree_size": tree_size,
                          "root_hash": root_hash, "timestamp": isoformat_utc(timestamp)})


def read_heads(path: Path) -> list[tuple[int, bytes]]:
    """Every line of the witness file with its number (none if there is no file yet)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    return [(number, line) for number, line in enumerate(data.split(b"\n"), 1) if line.strip()]


def leaves_after(session: Session, size: int) -> list[bytes]:
    """Leaf hashes of the events after the first `size`, in seq order."""
    dialect = session.get_bind().dialect.name
    statement = text(chain_rows_sql(dialect))
    leaves: list[bytes] = []
    after = size
    while True:
        rows = session.execute(statement, {"after": after, "limit": _BATCH}).all()
        if not rows:
            return leaves
        leaves += map(leaf_hash, batch_leaves(dialect, rows))
        if len(rows) < _BATCH:
            return leaves  # the last batch: no need to ask again
        after = rows[-1].seq


def witness_now(sessions: sessionmaker[Session], path: Path, signer: HeadSigner,
                own: dict[int, bytes] | None = None) -> TreeHead | None:
    """Sign the current tree head and append it to the witness, unless the newest head already covers every
    event. Under an exclusive lock of the file (POSIX record lock: also between hosts on NFSv4), so heads from
    every node and process stay in order and each line is written whole.

    `own`: the leaves (canonical bytes by seq) of the events the caller has just committed. When they follow
    the newest head with no gap, the new head is computed from them alone, without reading the log again
    (the events before them are in the head's frontier; the ones after them are witnessed by their own
    commits). Otherwise (a head missed by a crash or another node still behind its lock) the leaves after
    the newest head are read from the database, as without `own`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.lockf(descriptor, fcntl.LOCK_EX)
        last = _last_line(descriptor)
        frontier = TreeHead.from_line(last).resume() if last else Frontier()
        new = _following(own, frontier.size)
        if new is None:
            with sessions() as session:
                session.bind = reading(session.get_bind().engine)  # a read: on SQLite without the write lock (WAL snapshot)
                new = leaves_after(session, frontier.size)
        if not new:
            return None
        frontier.extend(new)
        now = utc_now()
        root = frontier.root().hex()
        head = TreeHead(frontier.size, root, now, signer.sign(tree_head_payload(frontier.size, root, now)),
                        tuple(node.hex() for node in frontier.nodes))
        _write_all(descriptor, head.to_line())
        os.fsync(descriptor)
        return head
    finally:
        os.close(descriptor)  # releases the lock


def _following(own: dict[int, bytes] | None, size: int) -> list[bytes] | None:
    """The leaf hashes of `own` after the first `size` events when they continue the tree without a gap
    ([] when the tree already holds them all); None when the database must be read."""
    if not own:
        return None
    seqs = sorted(own)
    if seqs != list(range(seqs[0], seqs[-1] + 1)):
        return None
    if size >= seqs[-1]:
        return []
    if size + 1 < seqs[0]:
        return None  # events between the head and ours: read them
    return [leaf_hash(own[seq]) for seq in range(size + 1, seqs[-1] + 1)]


def _write_all(descriptor: int, line: bytes) -> None:
    """The whole line, at the end of the file (O_APPEND), under the caller's lock: a short write is continued,
    never interleaved with another node's line."""
    view = memoryview(line)
    while view:
        view = view[os.write(descriptor, view):]


def _last_line(descriptor: int) -> bytes:
    end = os.lseek(descriptor, 0, os.SEEK_END)
    data, position = b"", end
    while position > 0:
        step = min(_TAIL_CHUNK, position)
        position -= step
        data = os.pread(descriptor, step, position) + data
        lines = [line for line in data.split(b"\n") if line.strip()]
        if len(lines) > 1 or (lines and position == 0):
            return lines[-1]
    return b""


class _Round:
    """One signed head for the commits of every thread that joined before it started."""

    def __init__(self) -> None:
        self.leaves: dict[int, bytes] = {}
        self.read_log = False  # a commit whose own leaves cannot be used: read the log after the head
        self.done = False
        self.error: BaseException | None = None


class GroupWitness:
    """Group commit of the witness within one process (21 CFR 11.10(e) without a head and an fsync per commit).

    Each committing thread joins the next round with the leaves it committed and waits until that round's head
    is durably appended. One thread at a time leads: it takes the round (every commit that joined while the
    previous head was being signed and fsynced), signs ONE head covering all of them, appends it with one fsync
    under the file lock (`witness_now`: other processes and nodes stay ordered by that lock) and wakes them.
    So no response leaves before a head covering its own events is on disk, and a crash loses no head that was
    acknowledged, while N concurrent commits cost one signature and one fsync instead of N."""

    def __init__(self, sessions: sessionmaker[Session], path: Path, signer: Callable[[], HeadSigner]) -> None:
        self._sessions, self._path, self._signer = sessions, path, signer
        self._changed = threading.Condition()
        self._next = _Round()
        self._leading = False
        self.rounds = 0  # heads attempted by this process (for benchmarks: fsyncs of the witness)

    def witness(self, own: dict[int, bytes] | None) -> None:
        """Wait until a head covering `own` (None: whatever this unit of work committed, read from the log) is
        durably witnessed; raises what the round that covers it raised."""
        with self._changed:
            joined = self._next
            if own is None:
                joined.read_log = True
            else:
                joined.leaves.update(own)
            while not joined.done:
                if self._leading:
                    self._changed.wait()
                    continue
                self._lead()
        if joined.error is not None:
            raise joined.error

    def _lead(self) -> None:
        """Sign and append the head of the round waiting now (called holding the condition)."""
        self._leading = True
        current, self._next = self._next, _Round()
        self.rounds += 1
        self._changed.release()
        try:
            witness_now(self._sessions, self._path, self._signer(),
                        None if current.read_log else current.leaves)
        except BaseException as error:  # noqa: BLE001 (handed to every waiter of the round)
            current.error = error
        finally:
            self._changed.acquire()
            current.done = True
            self._leading = False
            self._changed.notify_all()


def enable_witness(sessions: sessionmaker[Session], *, path: Path, signer: Callable[[], HeadSigner]) -> GroupWitness:
    """After every commit that appended audit events, witness the new tree head (grouped: `GroupWitness`).

    It runs after the commit: the change and its events are durable. A witness that fails (PKI missing,
    volume not mounted) is logged and never undoes them; `edms verify` then reports the events after the
    newest witnessed head as a warning, with their count, until the next commit witnesses them."""
    failures = {"count": 0}
    group = GroupWitness(sessions, path, signer)

    @event.listens_for(sessions, "after_flush")
    def _note_append(session: Session, _context: Any) -> None:
        appended = [item for item in session.new if isinstance(item, AuditEvent)]
        if appended:
            session.info[_APPENDED] = True
            # The exact bytes the event's hash covers (its leaf), taken while its attributes are loaded.
            session.info.setdefault(_LEAVES, []).extend(
                (item, item.seq, canonical_bytes(item.hashed_fields())) for item in appended)

    @event.listens_for(sessions, "after_soft_rollback")
    def _forget_append(session: Session, previous: SessionTransaction) -> None:
        # A SAVEPOINT's rollback keeps the events flushed before it (still to be committed); those it undid are no
        # longer persistent, and the commit then reads the log rather than name its leaves.
        if not previous.nested:
            session.info.pop(_APPENDED, None)
            session.info.pop(_LEAVES, None)

    @event.listens_for(sessions, "after_commit")
    def _witness(session: Session) -> None:
        # Also fired when a SAVEPOINT is released: only the outermost commit makes the events durable.
        if session.in_nested_transaction():
            return
        flushed = session.info.pop(_LEAVES, [])
        written = appended_rows(session)  # the events written without the ORM (edms.audit.record.append)
        if not session.info.pop(_APPENDED, False) and not written:
            return
        # Only events still in the session after the commit (one rolled back with its SAVEPOINT is not).
        # (`seq` as flushed: reading the expired attribute would query the database again.)
        own = {seq: leaf for item, seq, leaf in flushed if inspect(item).persistent}
        whole = len(own) == len(flushed)
        own.update(written)
        shared = shares_commit(session)
        if shared is not None:  # its events are durable only with the shared transaction's COMMIT: witnessed then
            if whole:
                leaves = shared.setdefault(_SHARED_LEAVES, {})
                assert isinstance(leaves, dict)
                leaves.update(own)
            else:
                shared[_SHARED_READ_LOG] = True
            return
        _witness_own(own if whole else None)

    def _witness_shared(shared: dict[str, object]) -> None:
        """After a shared transaction's COMMIT: ONE head for the events of all its sessions."""
        leaves = shared.get(_SHARED_LEAVES)
        if shared.get(_SHARED_READ_LOG):
            _witness_own(None)
        elif isinstance(leaves, dict) and leaves:
            _witness_own(leaves)

    def _witness_own(own: dict[int, bytes] | None) -> None:
        try:
            group.witness(own)
        except Exception:  # noqa: BLE001 (the committed change stands; `edms verify` warns of the unwitnessed tail)
            failures["count"] += 1
            if failures["count"] == 1:
                log.exception("the audit tree head could not be witnessed in %s; `edms verify` will warn", path)
            else:
                log.debug("the audit tree head could not be witnessed (%s failures)", failures["count"])
        else:
            failures["count"] = 0

    after_shared_commit(sessions, _witness_shared)
    return group
