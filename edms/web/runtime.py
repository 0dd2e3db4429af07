"""Per-request access to the services, the request's unit of work and the audit context.

The request owns one session: use cases run in it (edms.application.unit_of_work), `finish` commits it
once the response is ready (unless the request failed with a server error), and `close_db` rolls back
whatever is left and closes it at teardown.
"""
from __future__ import annotations

from flask import Response, current_app, g, request
from flask_login import current_user
from sqlalchemy.orm import Session

from edms.application.services import Services
from edms.application.unit_of_work import WRITER, abandon, complete
from edms.audit import AuditContext
from edms.config import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def services() -> Services:
    return current_app.extensions["edms"]


def settings() -> Settings:
    return services().settings


def db() -> Session:
    """The request's session: its one unit of work. A GET reads without the database's write lock
    (edms.db.reading); the first use case that writes moves it to the writing engine first
    (edms.application.unit_of_work.writes_ahead)."""
    if "db_session" not in g:
        found = services()
        if request.method in SAFE_METHODS:
            g.db_session = found.sessions(bind=found.reading_engine)
            g.db_session.info[WRITER] = found.engine
        else:
            g.db_session = found.sessions()
    return g.db_session


def finish(response: Response) -> Response:
    """Commit the request's unit of work: after every other hook (an inspector's access record included),
    before the response leaves, so that a failed commit fails the response. A server error commits nothing."""
    session = g.get("db_session")
    if session is not None:
        if response.status_code >= 500:
            abandon(session)
        else:
            complete(session)
    return response


def close_db(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        abandon(session)
        session.close()


def audit_context() -> AuditContext:
    user = getattr(g, "api_user", None) or (current_user.user if current_user.is_authenticated else None)
    return AuditContext(
        user_id=user.id if user else None,
        user_name=user.printed_name if user else "anonymous",
        client_addr=request.remote_addr,
        request_id=g.get("request_id") or "-",
    )
