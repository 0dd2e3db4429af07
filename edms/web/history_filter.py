"""Long histories (a case's or a document's signed history) filtered by record, kind of event, person and
date, and paged by keyset (the entries after an event's sequence number): read from the query string."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import request
from flask_login import current_user

from edms.inspection.timeline import HISTORY_KINDS, HistoryFilter
from edms.users.queries import find_user
from edms.web.bounds import query_int
from edms.web.runtime import db

PARAMS = ("record", "kind", "person", "from", "to")
PAGE_SIZE = 100


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, "").strip())
    except ValueError:
        return None  # an empty or malformed date does not narrow the history


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(current_user.timezone))


def history_filter() -> HistoryFilter:
    """The viewer's filter; dates are whole days in the viewer's own zone, both ends included."""
    kind = request.args.get("kind", "").strip()
    person = request.args.get("person", "").strip()
    actor_id = None
    if person:
        user = find_user(db(), person)
        actor_id = user.id if user else -1  # nobody by that name: nothing of theirs to show
    since, until = _day("from"), _day("to")
    return HistoryFilter(
        document_id=query_int("record"), kind=kind if kind in HISTORY_KINDS else None, actor_id=actor_id,
        since=_start_of(since) if since else None, until=_start_of(until + timedelta(days=1)) if until else None,
        after_seq=query_int("after"), limit=PAGE_SIZE)


def history_params() -> dict[str, str]:
    """The filter as query parameters, for the next page's link."""
    params = {name: request.args[name] for name in PARAMS if request.args.get(name, "").strip()}
    if request.args.get("access") == "1":
        params["access"] = "1"
    return params
