"""Refused requests of signed-in people (a 403, pages and API alike) leave an audit entry: who, which route,
when, from where and why (edms.application.refused_access), in the request's unit of work.

A guard or a view that refuses says why with `refuse(reason)` (or, in the API, before its 403 answer, with
`refused_because(reason)`); any other 403 is recorded with its error's description."""
from __future__ import annotations

from datetime import timedelta
from typing import NoReturn

from flask import abort, current_app, g, request
from flask_login import current_user

from edms.application.refusal_windows import RefusalWindows
from edms.application.refused_access import Refusal, refuse_access
from edms.web.runtime import audit_context, db, services

WINDOW = timedelta(minutes=1)
RECORDED_ONE_BY_ONE = 10  # per person, client and window; past it, one event with the count
_REASON = "edms_refused_because"


def refused_because(reason: str) -> None:
    """Why the request is refused, for its audit entry (the first reason given stands)."""
    if not g.get(_REASON):
        setattr(g, _REASON, reason)


def refuse(reason: str) -> NoReturn:
    """Refuse the request with a 403, audited with `reason` (English, for the audit trail)."""
    refused_because(reason)
    abort(403)


def needs_roles(roles: tuple[str, ...]) -> str:
    return "requires the role " + " or ".join(roles) if roles else "not allowed"


def windows() -> RefusalWindows[tuple[int | None, str, str]]:
    return current_app.extensions.setdefault("edms.refused_access", RefusalWindows(WINDOW, RECORDED_ONE_BY_ONE))


def record_refused_access(response):
    """After-request hook: a 403 answered to a signed-in person (page session or bearer token) is audited."""
    if response.status_code != 403:
        return response
    api_user = g.get("api_user")
    holder = api_user if api_user is not None else (current_user if current_user.is_authenticated else None)
    if holder is None:
        return response
    refuse_access(services(), db(), audit_context(), Refusal(
        method=request.method, path=request.full_path.rstrip("?"), endpoint=request.endpoint,
        channel="api" if api_user is not None else "web", roles=tuple(holder.roles),
        reason=g.get(_REASON) or "refused"), windows=windows())
    return response
