"""Group commit of whole audited reads: one open write transaction handed from request to request.

An inspector's read writes its access record in the request's one transaction (issue 15). Read one at a time,
each such transaction holds the database's write lock (SQLite: BEGIN IMMEDIATE behind the process's gate,
edms.sqlite_gate; PostgreSQL: the audit chain's advisory lock) for the whole request and then pays its own COMMIT
(one WAL fsync) and its own witness head (one more fsync). `WriteTurn` shares those among the reads waiting at the
same time, without changing what any of them reads or writes:

- a request that joins takes the write turn: the first one opens the transaction (SQLite: the gate and BEGIN
  IMMEDIATE at once, no optimistic run wasted), and runs its whole unit of work in a SAVEPOINT of it (a Session
  bound to the transaction's Connection, `join_transaction_mode="create_savepoint"`);
- when it is done it does not commit: it releases its SAVEPOINT (or rolls it back when it failed: only its own
  work is undone, it answers its error as before) and hands the STILL OPEN transaction to the next request waiting
  in this process, if any and if the group holds fewer than `MOST` requests; that one runs its reads and its record
  in the same transaction, under the same lock, in its own SAVEPOINT, and so on, strictly one thread at a time;
- the last one COMMITs once. Then the next waiter (if any) opens the next transaction, while the group's events
  are witnessed by ONE tree head (edms.db.after_shared_commit: the witness and the checkpoints run once for the
  group, as they run once for a request's own COMMIT), and only then is each request of the group answered.
  A COMMIT that fails fails every request of the group (`SharedCommitFailed`: a 500, nothing served, no record).

Every read of a group and its record are one transaction, shared by the group serially: nothing else writes in
between (the write lock is held throughout), so each reads exactly what it would have read alone at that moment.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from edms.db import SHARED, run_after_shared_commit, shares_commit
from edms.sqlite_gate import gate_of

MOST = 16  # requests in one shared transaction: the write lock is given to others' writes at least this often
_MEMBER = "edms.write_turn.member"  # session.info: the _Group the session is a SAVEPOINT of


class SharedCommitFailed(Exception):
    """The COMMIT of the transaction this request shared failed: nothing of it is durable, the request fails."""


class _Group:
    """One open write transaction and the requests that have run in it."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.shared: dict[str, object] = {}  # edms.db.shares_commit: the members' after-commit work
        self.size = 1  # requests handed the transaction so far (the running one included)
        self.done = False
        self.error: BaseException | None = None


class _Ticket:
    """A request waiting for the write turn: handed a group to join, or the turn to open the next one."""

    def __init__(self) -> None:
        self.go = False
        self.group: _Group | None = None


class WriteTurn:
    """The process's write turn for audited reads of one engine (see the module's text)."""

    def __init__(self, engine: Engine, sessions: sessionmaker[Session]) -> None:
        self._engine, self._sessions = engine, sessions
        self._changed = threading.Condition()
        self._waiting: deque[_Ticket] = deque()
        self._held = False  # a request runs in the open transaction, or opens or commits it
        self.commits = 0  # shared transactions committed (for benchmarks and tests)
        self.members = 0  # requests that ran in one

    def waiting(self) -> int:
        """Requests waiting for the turn now."""
        with self._changed:
            return len(self._waiting)

    def join(self) -> Session:
        """Wait for the turn; a session that is a SAVEPOINT of the open (or a new) shared transaction."""
        ticket = _Ticket()
        with self._changed:
            if self._held:
                self._waiting.append(ticket)
                while not ticket.go:
                    self._changed.wait()
            else:
                self._held = True
        group = ticket.group
        if group is None:
            try:
                connection = self._engine.connect()
                try:
                    connection.begin()  # SQLite: the gate, then BEGIN IMMEDIATE (edms.db)
                except BaseException:
                    connection.close()
                    raise
            except BaseException:
                self._pass_turn()
                raise
            group = _Group(connection)
        else:
            gate = gate_of(self._engine)
            if gate is not None:
                gate.adopt(group.connection.connection.dbapi_connection)
        session = self._sessions(bind=group.connection, join_transaction_mode="create_savepoint")
        session.info[SHARED] = group.shared
        session.info[_MEMBER] = group
        return session

    def leave(self, session: Session, *, succeeded: bool, wait: bool = True) -> None:
        """The request is done with `session` (a `join`): its SAVEPOINT released (`succeeded`) or rolled back, the
        transaction handed on or committed. With `wait`, returns only once the group's COMMIT and witness head
        are done; raises `SharedCommitFailed` if the COMMIT failed (and what releasing its SAVEPOINT raised)."""
        group: _Group = session.info.pop(_MEMBER)
        error: BaseException | None = None
        try:
            if succeeded:
                session.commit()  # releases its SAVEPOINT; the transaction stays open
            else:
                session.rollback()
        except BaseException as failed:  # noqa: BLE001 (its own work undone; raised below, once handed on)
            error = failed
            session.rollback()
        finally:
            session.close()
        self.members += 1
        handed = False
        with self._changed:
            if self._waiting and group.size < MOST:
                ticket = self._waiting.popleft()
                ticket.group, ticket.go = group, True
                group.size += 1
                handed = True
                self._changed.notify_all()
        if not handed:
            self._commit(group)
        if error is not None:
            raise error
        if not wait:
            return
        with self._changed:
            while not group.done:
                self._changed.wait()
        if group.error is not None:
            raise SharedCommitFailed("the shared transaction could not be committed") from group.error

    def _commit(self, group: _Group) -> None:
        connection = group.connection
        try:
            transaction = connection.get_transaction()
            if transaction is not None:
                transaction.commit()  # SQLite: then the gate is free for the next writer
            self.commits += 1
        except BaseException as failed:  # noqa: BLE001 (handed to every request of the group)
            group.error = failed
            # Whatever the failed COMMIT left open dies with the connection (SQLite, PostgreSQL: rolled back), and
            # with it the process's write turn (edms.sqlite_gate: a connection invalidated gives it back).
            connection.invalidate()
        finally:
            try:
                connection.close()
            finally:
                self._pass_turn()
        try:
            if group.error is None:
                run_after_shared_commit(self._sessions, group.shared)  # ONE witness head for the group
        finally:
            with self._changed:
                group.done = True
                self._changed.notify_all()

    def _pass_turn(self) -> None:
        with self._changed:
            if self._waiting:
                ticket = self._waiting.popleft()
                ticket.go = True  # it opens the next transaction
                self._changed.notify_all()
            else:
                self._held = False


def in_turn(session: Session) -> bool:
    """Whether `session` is a request's SAVEPOINT of a shared transaction (`WriteTurn.join`) not yet left."""
    return _MEMBER in session.info and shares_commit(session) is not None


def turn_of(holder: dict[str, Any], engine: Engine, sessions: sessionmaker[Session]) -> WriteTurn:
    """The `WriteTurn` kept in `holder` (an application's extensions), made once."""
    found = holder.get(_KEY)
    if found is None:
        with _MAKING:
            found = holder.get(_KEY)
            if found is None:
                found = holder[_KEY] = WriteTurn(engine, sessions)
    return found


_KEY = "edms.write_turn"
_MAKING = threading.Lock()
