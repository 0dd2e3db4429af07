"""A signed-in person refused a page or an API route their roles do not open (a 403): audited, who, what, when,
from where and why (21 CFR 11.10(d), (e), (g); 11.300(d): every failed attempt leaves an entry).

A person (or a stolen session or token) can send refused requests as fast as they like, so the refusals are
counted per (person, client) and time window (`RefusalWindows`, as refused bearer tokens and throttled
sign-ins): the first few of a window are recorded at once, each; the rest of the window as one event with
their count, at the next refusal after the window closed. None is dropped.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from edms.application.refusal_windows import RefusalWindows
from edms.application.services import Services
from edms.application.unit_of_work import use_case
from edms.audit import AuditContext, record
from edms.timeutil import utc_now

ACTION = "access.refused"
OBJECT = "route"
OBJECT_ID_LENGTH = 80  # audit_event.object_id


@dataclass(frozen=True)
class Refusal:
    method: str
    path: str  # with its query string, at most 512 characters
    endpoint: str | None
    channel: str  # "web" (a page) or "api" (a bearer token)
    roles: tuple[str, ...]  # the roles the person holds
    reason: str  # why it was refused, as the guard or the view said it


def refuse_access(services: Services, session: Session, ctx: AuditContext, refusal: Refusal, *,
                  windows: RefusalWindows[tuple[int | None, str, str]]) -> None:
    """Record a refused request in the request's unit of work (its SAVEPOINT is released: the refusal is the
    request's answer, the request commits with it)."""
    client = ctx.client_addr or "unknown"
    at_once, closed = windows.refuse((ctx.user_id, ctx.user_name, client), utc_now())
    with use_case(session):
        for window in closed:  # recorded as the person whose requests they were, from where they came
            user_id, user_name, where = window.key
            record(session, replace(ctx, user_id=user_id, user_name=user_name, client_addr=where), ACTION, OBJECT,
                   None, changes={"count": {"old": None, "new": window.count}},
                   reason=f"{window.count} further requests refused from {where} between {window.start.isoformat()} "
                          f"and {window.end.isoformat()} (their roles did not allow them)")
        if at_once:
            # The object is the route as far as the audit trail's object column holds (80 characters); the whole
            # path, with its query string, is among the changes.
            route = f"{refusal.method} {refusal.path.split('?', 1)[0]}"[:OBJECT_ID_LENGTH]
            record(session, ctx, ACTION, OBJECT, route, changes={
                "method": {"old": None, "new": refusal.method},
                "path": {"old": None, "new": refusal.path[:512]},
                "endpoint": {"old": None, "new": refusal.endpoint},
                "channel": {"old": None, "new": refusal.channel},
                "roles": {"old": None, "new": sorted(refusal.roles)},
                "count": {"old": None, "new": 1},
            }, reason=refusal.reason[:500])
