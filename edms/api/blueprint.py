"""The /api/v1 blueprint and its bearer-token authentication."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache, wraps
from typing import Any

from flask import Blueprint, abort, current_app, g, request
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from edms.api.openapi import ATTRIBUTE, body_problems
from edms.application import access
from edms.application.refusal_windows import RefusalWindows
from edms.timeutil import require_aware
from edms.users.models import User
from edms.users.roles import INSPECTOR
from edms.users.tokens import Caller, caller_for_token, user_for_token
from edms.web.bounds import request_json
from edms.web.errors import api_error
from edms.web.extensions import limiter
from edms.web.guards import PACKAGE_EXPORTS
from edms.web.refusals import needs_roles, refused_because
from edms.web.runtime import audit_context, db, services, settings, writing_reader
from edms.web.scope import out_of_scope
from edms.workflow.visibility import SEE_EVERY_CASE, sees_every_case

bp = Blueprint("api", __name__, url_prefix="/api/v1")

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
REFUSAL_WINDOW = timedelta(minutes=1)
REFUSALS_RECORDED_ONE_BY_ONE = 5  # per client and window; past it, one event with the count
BAD_CREDENTIALS = "api-bad-credentials"  # the limiter's scope of refused bearer tokens, per client


Along = Callable[[Session | Engine, str, dict[str, Any]], tuple[Caller | None, object]]


def token_required(*roles: str, reader: bool = False, along: Along | None = None):
    """Authenticate the bearer token; refuse (and audit) a missing or unknown credential (11.10(h)).

    `reader`: the view only reads and needs of its caller no more than a `Caller` gives (id, names, language,
    roles): the token, holder and roles are then read in one Core statement (`caller_for_token`, the same
    rule) and `g.api_user` is that `Caller`, not an ORM `User`.
    `along` (a reader's): `along(session_or_engine, token, view_args)` reads the caller and the view's rows in one
    statement (e.g. `queries.document_summary_with_caller`), first alone outside any transaction (`_read_along`);
    the view gets the rows from `read_along()`, only once every check below has passed."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            throttle = _bad_credentials()
            if throttle is not None and not limiter.limiter.test(*throttle):
                _throttled(None)
                abort(429, description=str(throttle[0]))
            header = request.headers.get("Authorization", "")
            token = header[7:].strip() if header.lower().startswith("bearer ") else ""
            user: User | Caller | None = None
            rows: object = None
            if token and along is not None:
                user, rows = _read_along(along, token, roles)
            elif token:
                user = caller_for_token(db(), token) if reader else user_for_token(db(), token)
            if user is None:
                access.refuse_api_request(services(), db(), audit_context(), request.path, had_token=bool(token),
                                          windows=refusal_windows())
                if throttle is not None:
                    limiter.limiter.hit(*throttle)
                return api_error(401, "unauthorized", "A valid bearer token is required: POST /api/v1/auth/token.")
            g.api_user = user
            if request.method not in SAFE_METHODS and user.has_role(INSPECTOR) and request.endpoint not in PACKAGE_EXPORTS:
                refused_because("inspector accounts are read-only")
                return api_error(403, "forbidden", "Inspector accounts are read-only.")
            if roles and not user.has_role(*roles):
                refused_because(needs_roles(roles))
                return api_error(403, "forbidden", "Your roles do not allow this request.")
            if request.view_args and not sees_every_case(user) and out_of_scope(db(), user, request.view_args):
                return api_error(404, "not_found", "No such case or record.")
            g.api_along = rows
            return view(*args, **kwargs)

        wrapped.required_roles = roles  # read by the OpenAPI document (which then lists a 403)
        return wrapped

    return decorator


def _read_along(along: Along, token: str, roles: tuple[str, ...]) -> tuple[Caller | None, object]:
    """The caller and the view's rows (`along`). First as the one statement alone, outside any transaction
    (`edms.db.one_statement`: no Session, no BEGIN or ROLLBACK; on PostgreSQL one round trip instead of three):
    when it names a caller whose request then needs nothing more of the database (admissible, not an inspector,
    holding the view's roles, seeing every case), that statement is the request's whole read and the request has
    no unit of work. For any other caller (a refused token, an inspector, whose access record is written in the
    same transaction as the read; a missing role, whose refusal is recorded; a physician, whose case scope is
    read) the statement is read again in the request's unit of work and the request goes on exactly as before,
    every check and record in that one transaction. A credential known to read with a record (an inspector's:
    edms.web.runtime.writing_reader) is read in the unit of work at once: the statement alone would be read twice."""
    view_args = request.view_args or {}
    if request.method in SAFE_METHODS and g.get("db_session") is None and not writing_reader():
        user, rows = along(services().engine, token, view_args)
        if user is not None and not user.has_role(INSPECTOR) and (not roles or user.has_role(*roles)) \
                and user.has_role(*SEE_EVERY_CASE):
            return user, rows
    return along(db(), token, view_args)


def read_along() -> Any:
    """The rows the view's `along` read with the caller (see `token_required`)."""
    return g.api_along


def _bad_credentials():
    """The limit of refused credentials per client (the sign-in limit, shared by every node through the
    limiter's storage), its scope and this client's key; None when limits are off. Every request is tested
    against it (a client past it is refused whatever it sends); only a refused credential counts."""
    if not limiter.enabled:
        return None
    return _limit(settings().login_rate_limit), BAD_CREDENTIALS, get_remote_address() or request.remote_addr or "unknown"


@lru_cache(maxsize=8)
def _limit(text: str) -> RateLimitItem:
    """The configured limit, read once per text (not once per request)."""
    return parse(text)


def refusal_windows() -> RefusalWindows:
    """This app's windows of refused credentials (one per app, per node)."""
    return current_app.extensions.setdefault("edms.refused_credentials", RefusalWindows(REFUSAL_WINDOW,
                                                                                   REFUSALS_RECORDED_ONE_BY_ONE))


def _throttled(_limit) -> None:
    """A throttled request is counted with the client's other refusals (the answer stays the limiter's 429)."""
    access.refuse_api_request(services(), db(), audit_context(), request.path, had_token=True,
                              windows=refusal_windows())


@bp.before_request
def refuse_hostile_json() -> None:
    """Every JSON body is checked, also where the view ignores it: no request carries one past this."""
    request_json()


def json_body() -> dict:
    """The JSON object the request carries ({} for none), its fields of the types the view's operation
    declares (the same schema the OpenAPI document publishes); a 400 naming the fields otherwise."""
    body = request_json()
    body = body if isinstance(body, dict) else {}
    declared = getattr(current_app.view_functions.get(request.endpoint or ""), ATTRIBUTE, None)
    problems = body_problems(body, declared["body"]) if declared and declared["body"] else {}
    if problems:
        response, status = api_error(400, "invalid_request",
                                     "Some fields have the wrong type: " + ", ".join(sorted(problems)) + ".", problems)
        response.status_code = status
        abort(response)
    return body


def aware_time(body: dict, key: str, error: type[Exception]) -> datetime:
    """Times over the API carry their offset: an ambiguous local time is refused (as `error`), never guessed."""
    try:
        value = datetime.fromisoformat(str(body.get(key, "")))
    except ValueError:
        raise error(f"'{key}' must be an ISO 8601 date and time with its offset") from None
    if value.tzinfo is None:
        raise error(f"'{key}' must include its UTC offset, e.g. 2026-11-20T09:30:00+09:00")
    try:
        require_aware(value)
    except ValueError:
        raise error(f"'{key}' is outside the years 1 to 9999 in UTC") from None
    return value
