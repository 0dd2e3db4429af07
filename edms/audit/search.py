"""Finding audit events: one filter shared by the viewer, the API and the exports; keyset pages by seq."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, Row, select
from sqlalchemy.orm import Session

from edms.audit.models import AuditEvent
from edms.errors import N_, UserError
from edms.timeutil import isoformat_utc, require_aware

MAX_PAGE = 500

# An event as the ORM loads it or as a plain row of `audit_event` (the exports read rows, for speed).
StoredEvent: TypeAlias = AuditEvent | Row[Any]


class FilterError(UserError):
    """A filter value that cannot be understood; the message names the parameter."""


@dataclass(frozen=True)
class AuditFilter:
    object_type: str | None = None
    object_id: str | None = None
    document_version: int | None = None
    case_id: str | None = None
    actor_id: int | None = None
    action: str | None = None
    since: datetime | None = None  # inclusive, UTC
    until: datetime | None = None  # exclusive, UTC
    seq_from: int | None = None
    seq_to: int | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        column = AuditEvent.__table__.c
        found: list[ColumnElement[bool]] = []
        for name in ("object_type", "object_id", "document_version", "case_id", "actor_id", "action"):
            value = getattr(self, name)
            if value is not None:
                found.append(column[name] == value)
        if self.since is not None:
            found.append(column.occurred_at >= self.since)
        if self.until is not None:
            found.append(column.occurred_at < self.until)
        if self.seq_from is not None:
            found.append(column.seq >= self.seq_from)
        if self.seq_to is not None:
            found.append(column.seq <= self.seq_to)
        return found

    def describe(self) -> dict[str, Any]:
        """The filter as recorded with an export: set values only, times in UTC."""
        return {
            name: isoformat_utc(value) if isinstance(value, datetime) else value
            for name, value in asdict(self).items() if value is not None
        }


def _text(params: Mapping[str, str], name: str) -> str | None:
    value = (params.get(name) or "").strip()
    return value or None


def _integer(params: Mapping[str, str], name: str) -> int | None:
    value = _text(params, name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise FilterError(N_("'%(name)s' must be a whole number."), name=name) from None
    if abs(number) > 2**63 - 1:  # what a database column holds
        raise FilterError(N_("'%(name)s' is out of range."), name=name)
    return number


def _moment(value: str, zone: str, name: str, *, end_of_day: bool) -> datetime:
    """A date is a whole day in the viewer's zone; a date-time must carry its offset."""
    try:
        if "T" not in value:
            day = date.fromisoformat(value) + timedelta(days=1 if end_of_day else 0)
            return require_aware(datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)))
        return require_aware(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except (ValueError, OverflowError):  # OverflowError: the day after 9999-12-31
        raise FilterError(
            N_("'%(name)s' must be a date (YYYY-MM-DD) or a date and time with its offset."), name=name
        ) from None


def parse_filter(params: Mapping[str, str], zone: str, find_user_id: Callable[[str], int | None],
                 find_case_id: Callable[[str], int | None] | None = None) -> AuditFilter:
    """The filter from query parameters. Dates are days in `zone` (the viewer's), stored times are UTC:
    `from` is the start of its day, `to` the end of its day; date-times with an offset are taken as they are.
    A case is named by its number or, with `find_case_id`, by its reference (CASE-2026-0001); any other
    value is matched as recorded."""
    case_id = _text(params, "case_id")
    if case_id is not None and not case_id.isdigit() and find_case_id is not None:
        found = find_case_id(case_id)
        case_id = str(found) if found is not None else case_id
    user = _text(params, "user")
    actor_id = _integer(params, "actor_id")
    if user is not None:
        actor_id = find_user_id(user)
        if actor_id is None:
            raise FilterError(N_("There is no user named '%(name)s'."), name=user)
    since = _text(params, "from")
    until = _text(params, "to")
    return AuditFilter(
        object_type=_text(params, "object_type"),
        object_id=_text(params, "object_id"),
        document_version=_integer(params, "document_version"),
        case_id=case_id,
        actor_id=actor_id,
        action=_text(params, "action"),
        since=_moment(since, zone, "from", end_of_day=False) if since else None,
        until=_moment(until, zone, "to", end_of_day=True) if until else None,
        seq_from=_integer(params, "seq_from"),
        seq_to=_integer(params, "seq_to"),
    )


@dataclass(frozen=True)
class Page:
    events: list[AuditEvent]
    older: int | None  # pass as `before` for the next page back in time
    newer: int | None  # pass as `after` for the page forward in time


def newest_first(session: Session, flt: AuditFilter, *, before: int | None = None, after: int | None = None,
                 limit: int = 50) -> Page:
    """One page of the viewer, newest first; `before`/`after` are seq keys from an earlier page."""
    limit = max(1, min(limit, MAX_PAGE))
    query = select(AuditEvent).where(*flt.conditions())
    if after is not None:
        rows = list(session.scalars(query.where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(limit + 1)))
        shown = rows[:limit][::-1]
        return Page(shown, older=shown[-1].seq if shown else after + 1,
                    newer=shown[0].seq if len(rows) > limit else None)
    if before is not None:
        query = query.where(AuditEvent.seq < before)
    rows = list(session.scalars(query.order_by(AuditEvent.seq.desc()).limit(limit + 1)))
    shown = rows[:limit]
    if before is None:
        newer = None
    else:
        newer = shown[0].seq if shown else before - 1
    return Page(shown, older=shown[-1].seq if len(rows) > limit else None, newer=newer)


def oldest_first(session: Session, flt: AuditFilter, *, after: int | None = None, limit: int = 100
                 ) -> tuple[list[AuditEvent], int | None]:
    """One page for the API in chain order; returns the events and the `after` key of the next page."""
    limit = max(1, min(limit, MAX_PAGE))
    query = select(AuditEvent).where(*flt.conditions())
    if after is not None:
        query = query.where(AuditEvent.seq > after)
    rows = list(session.scalars(query.order_by(AuditEvent.seq).limit(limit + 1)))
    return rows[:limit], rows[limit - 1].seq if len(rows) > limit else None


def stream(connection: Connection, flt: AuditFilter, *, through_seq: int, batch_size: int = 1000) -> Iterator[Any]:
    """Every matching event up to `through_seq`, in chain order, a keyset batch at a time (for exports)."""
    table = AuditEvent.__table__
    query = select(table).where(*flt.conditions(), table.c.seq <= through_seq).order_by(table.c.seq).limit(batch_size)
    last = 0
    while True:
        rows = connection.execute(query.where(table.c.seq > last)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def head_seq(session: Session) -> int:
    return session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) or 0


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any


def field_changes(changes: str | None) -> list[FieldChange]:
    """The stored `changes` as old → new per field, in the order they were recorded (sorted by name)."""
    if not changes:
        return []
    try:
        parsed = json.loads(changes)
    except ValueError:
        return [FieldChange("changes", None, changes)]
    if not isinstance(parsed, dict):
        return [FieldChange("changes", None, parsed)]
    return [
        FieldChange(name, value.get("old"), value.get("new"))
        if isinstance(value, dict) and set(value) <= {"old", "new"} else FieldChange(name, None, value)
        for name, value in parsed.items()
    ]


def event_json(event: StoredEvent) -> dict[str, Any]:
    """An event (model or row) as the API and the JSON Lines export give it: times in UTC, changes parsed."""
    return {
        "seq": event.seq,
        "occurred_at": isoformat_utc(event.occurred_at),
        "actor": {"id": event.actor_id, "name": event.actor_name},
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "document_version": event.document_version,
        "case_id": event.case_id,
        "reason": event.reason,
        "changes": json.loads(event.changes) if event.changes else None,
        "request_id": event.request_id,
        "client_addr": event.client_addr,
        "app_version": event.app_version,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }
