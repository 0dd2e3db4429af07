"""Per-request access to the services, the request's unit of work and the audit context.

The request owns one session: use cases run in it (edms.application.unit_of_work), `finish` commits it
once the response is ready (unless the request failed with a server error), and `close_db` rolls back
whatever is left and closes it at teardown.
"""
from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask import session as page_session
from flask_login import current_user
from sqlalchemy.orm import Session

from edms.application.services import Services
from edms.application.unit_of_work import WRITER, StaleRead, abandon, complete, must_rerun
from edms.application.write_turn import WriteTurn, in_turn, turn_of
from edms.audit import AuditContext
from edms.config import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RUNS = 2  # a read-only request that must write runs at most this often; the last run takes the lock first
_LOCK_FIRST = "edms_lock_first"

log = logging.getLogger("edms")


def services() -> Services:
    return current_app.extensions["edms"]


def settings() -> Settings:
    return services().settings


def db() -> Session:
    """The request's session: its one unit of work. A GET reads without the database's write lock
    (edms.db.reading); the first use case that writes takes the lock in the same transaction
    (edms.application.unit_of_work.writes_ahead), or the request runs again (`dispatch_with_reruns`). A GET known
    to write (its reader's reads are recorded: `remember_writing_reader`) and the last run of an overtaken one take
    the write turn at once instead: a SAVEPOINT of a write transaction shared with other such reads, committed
    once for all of them (edms.application.write_turn; `finish` waits for that COMMIT)."""
    if "db_session" not in g:
        found = services()
        if request.method not in SAFE_METHODS:
            g.db_session = found.sessions()
        elif g.get(_LOCK_FIRST) or writing_reader():
            g.db_session = write_turn().join()  # its write turn, in a transaction maybe shared (group commit)
        else:
            g.db_session = found.sessions(bind=found.reading_engine)
            g.db_session.info[WRITER] = found.engine
    return g.db_session


def write_turn() -> WriteTurn:
    found = services()
    return turn_of(current_app.extensions, found.engine, found.sessions)


# Readers whose reads write (inspectors: their access records), by a digest of their credential: their next GETs
# take the write turn at once (`WriteTurn`) instead of reading first and running again when the write lock is taken.
# Only a hint: a reader wrongly named here reads in a write transaction that writes nothing, as right as before.
_WRITING_READERS: OrderedDict[bytes, None] = OrderedDict()
_WRITING_READERS_KEPT = 4096
_HINTS = threading.Lock()


def _credential() -> bytes | None:
    authorization = request.headers.get("Authorization")
    if authorization:
        return hashlib.sha256(b"bearer\0" + authorization.encode("utf-8", "surrogateescape")).digest()
    if not request.cookies:
        return None  # no page session (reading Flask's session would only mark the response `Vary: Cookie`)
    sid = page_session.get("sid")
    if isinstance(sid, str) and sid:
        return hashlib.sha256(b"session\0" + sid.encode("utf-8", "surrogateescape")).digest()
    return None


def writing_reader() -> bool:
    """Whether this request's credential is known to read with a record (`remember_writing_reader`): a hint."""
    key = _credential()
    return key is not None and key in _WRITING_READERS


def remember_writing_reader() -> None:
    """This request's reader writes when it reads (an inspector): its next GETs take the write turn at once."""
    key = _credential()
    if key is None or key in _WRITING_READERS:
        return
    with _HINTS:
        _WRITING_READERS[key] = None
        while len(_WRITING_READERS) > _WRITING_READERS_KEPT:
            _WRITING_READERS.popitem(last=False)


def finish(response: Response) -> Response:
    """Commit the request's unit of work: after every other hook (an inspector's access record included),
    before the response leaves, so that a failed commit fails the response. A server error commits nothing."""
    found = g.get("db_session")
    if found is not None:
        if in_turn(found):  # released into the shared transaction; answered once it is committed and witnessed
            g.pop("db_session")
            write_turn().leave(found, succeeded=response.status_code < 500)
        elif response.status_code >= 500:
            abandon(found)
        else:
            complete(found)
    return response


def dispatch_with_reruns(app: Flask) -> None:
    """Run a request again from the start when its unit of work ended in `StaleRead` (on SQLite, a GET that
    read its snapshot and then had to write, an inspector's access record, while another writer committed):
    its session is rolled back (nothing was written) and the request's globals are as before its first run;
    reads are idempotent. The last of `RUNS` runs takes the write lock first (the write turn:
    edms.application.write_turn, BEGIN IMMEDIATE or a transaction already holding the lock), so it cannot fail so.
    Nothing is sent before the run that succeeds."""
    dispatch = app.full_dispatch_request

    def full_dispatch_request() -> Response:
        before: dict[str, Any] = dict(vars(g))
        for run in range(1, RUNS):
            try:
                response = dispatch()
            except StaleRead:
                if not _rerun_needed():
                    raise
            else:
                if not _rerun_needed():
                    return response
            _forget_run(before, lock_first=run + 1 == RUNS)
            log.debug("request %s runs again (%s of %s): another writer committed since its read",
                      request.path, run + 1, RUNS)
        return dispatch()  # the lock taken first (BEGIN IMMEDIATE): no StaleRead

    app.full_dispatch_request = full_dispatch_request  # type: ignore[method-assign]


def _rerun_needed() -> bool:
    session = g.get("db_session")
    return session is not None and must_rerun(session)


def _forget_run(before: dict[str, Any], *, lock_first: bool) -> None:
    close_db()
    vars(g).clear()
    vars(g).update(before)
    if lock_first:
        setattr(g, _LOCK_FIRST, True)


def close_db(_exc: BaseException | None = None) -> None:
    found = g.pop("db_session", None)
    if found is None:
        return
    if in_turn(found):  # the request failed before `finish`: its SAVEPOINT rolled back, the turn handed on
        write_turn().leave(found, succeeded=False, wait=False)
        return
    abandon(found)
    found.close()


def audit_context() -> AuditContext:
    # A page's reader answers id and printed name from its row (edms.web.session_user): no ORM load for this.
    user = getattr(g, "api_user", None) or (current_user if current_user.is_authenticated else None)
    return AuditContext(
        user_id=user.id if user else None,
        user_name=user.printed_name if user else "anonymous",
        client_addr=request.remote_addr,
        request_id=g.get("request_id") or "-",
    )
