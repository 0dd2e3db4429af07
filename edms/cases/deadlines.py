"""Regime deadlines computed from a case's dates: pure functions, aware datetimes in, UTC out.

How a due time is found (docs/regimes.md, "How deadlines are computed"):
- hours: exact elapsed time from the anchor, so "48 hours" is 48 real hours across a DST change;
- calendar and working days: whole local days at the treating site. The anchor's local date is day 0;
  the due date is N (working) days later. A "not after" deadline runs to the end of the due date
  (24:00 local, i.e. the next day's first instant); a "not before" one opens at the due date's first
  instant. Working days skip Saturdays, Sundays and the listed holidays, counted in the site's zone.
A deadline is kept when the event comes at or before (not_after) / at or after (not_before) its due time.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from edms.cases.regimes import Deadline, Regime
from edms.documents.types import LocalizedText
from edms.timeutil import format_in_zone, is_valid_zone, require_aware

PENDING = "pending"
DUE_SOON = "due_soon"
OVERDUE = "overdue"
MET = "met"
BREACHED = "breached"  # the event happened, but late (not_after) or too early (not_before)
NOT_APPLICABLE = "not_applicable"
WAITING_FOR_ANCHOR = "waiting_for_anchor"
STATE_LABELS = {
    PENDING: LocalizedText("open", "期限内"),
    DUE_SOON: LocalizedText("due soon", "期限間近"),
    OVERDUE: LocalizedText("overdue", "期限超過"),
    MET: LocalizedText("met", "遵守"),
    BREACHED: LocalizedText("breached", "不遵守"),
    NOT_APPLICABLE: LocalizedText("not applicable", "該当なし"),
    WAITING_FOR_ANCHOR: LocalizedText("waiting for its start date", "起算日待ち"),
}
STATES = (PENDING, DUE_SOON, OVERDUE, MET, BREACHED, NOT_APPLICABLE, WAITING_FOR_ANCHOR)
ATTENTION = frozenset({DUE_SOON, OVERDUE, BREACHED})


@dataclass(frozen=True)
class DeadlineStatus:
    deadline: Deadline
    state: str
    due_at: datetime | None  # UTC
    time_left: timedelta | None  # due_at - now while open; negative when overdue
    met_at: datetime | None  # UTC, the event that met (or breached) it
    human: LocalizedText  # "in 1 day 3 h", "overdue by 2 h", ...
    site_zone: str
    # The condition deciding whether it applies is not answered yet; it is shown as applying.
    condition_unanswered: bool = False
    warn_at: datetime | None = None  # UTC, from when an open "not after" deadline is due soon


    @property
    def key(self) -> str:
        return self.deadline.key

    @property
    def state_label(self) -> LocalizedText:
        return STATE_LABELS[self.state]

    @property
    def needs_attention(self) -> bool:
        return self.state in ATTENTION

    @property
    def due_local(self) -> datetime | None:
        return None if self.due_at is None else self.due_at.astimezone(ZoneInfo(self.site_zone))


def format_span(delta: timedelta) -> LocalizedText:
    """The two largest units, rounded down to the minute: 1 day 3 h, 2 h 15 min, 45 min."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return LocalizedText(f"{days} day{'' if days == 1 else 's'}" + (f" {hours} h" if hours else ""),
                             f"{days}日" + (f"{hours}時間" if hours else ""))
    if hours:
        return LocalizedText(f"{hours} h" + (f" {mins} min" if mins else ""),
                             f"{hours}時間" + (f"{mins}分" if mins else ""))
    if mins:
        return LocalizedText(f"{mins} min", f"{mins}分")
    return LocalizedText("less than 1 min", "1分未満")


def _first_instant(day: date, zone: ZoneInfo) -> datetime:
    # Where local midnight falls in a DST gap, zoneinfo maps it to the first instant that exists.
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _add_working_days(start: date, count: int, holidays: Collection[date]) -> date:
    day, counted = start, 0
    while counted < count:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in holidays:
            counted += 1
    return day


def due_time(deadline: Deadline, start: datetime, *, site_zone: str, holidays: Collection[date] = ()) -> datetime:
    """When `deadline` falls due for a clock started at `start`, in UTC."""
    start = require_aware(start)
    offset = deadline.offset
    if offset.unit == "hours":
        return start + timedelta(hours=offset.amount)
    zone = ZoneInfo(site_zone)
    local_day = start.astimezone(zone).date()
    if offset.unit == "calendar_days":
        due_day = local_day + timedelta(days=offset.amount)
    else:
        due_day = _add_working_days(local_day, offset.amount, holidays)
    return _first_instant(due_day + timedelta(days=1) if deadline.direction == "not_after" else due_day, zone)


def compute_deadline(deadline: Deadline, anchors: Mapping[str, datetime | None], *, site_zone: str, now: datetime,
                     conditions: Mapping[str, bool | None] | None = None,
                     holidays: Collection[date] = ()) -> DeadlineStatus:
    """The state of one deadline. `anchors` as regimes.resolve_anchors gives them; `conditions` as
    regimes.resolve_conditions gives them."""
    if not is_valid_zone(site_zone):
        raise ValueError(f"unknown time zone '{site_zone}'")
    now = require_aware(now)
    applies = None if deadline.condition is None else deadline.condition.evaluate(conditions or {})
    if applies is False:
        text = LocalizedText("not applicable", "該当なし")
        return DeadlineStatus(deadline, NOT_APPLICABLE, None, None, None, text, site_zone)
    unanswered = deadline.condition is not None and applies is None
    start = anchors.get(deadline.anchor.text)
    event = anchors.get(deadline.met_by.text)
    met_at = None if event is None else require_aware(event)
    early = anchors.get(deadline.warn_from.text) if deadline.warn_from is not None else None
    early_due = None if early is None else due_time(deadline, early, site_zone=site_zone, holidays=holidays)
    if start is None:
        label = deadline.anchor.label
        text = LocalizedText(f"waiting for: {label.en}", f"{label.ja}待ち")
        if early_due is not None and met_at is None and deadline.warn_from is not None:
            # Counted from the earlier moment the clock is already running: say by when, without a state change.
            when, since = format_in_zone(early_due, site_zone), deadline.warn_from.label
            text = LocalizedText(f"{text.en}; counted from {since.en.lower()}: by {when}",
                                 f"{text.ja}。{since.ja}から起算すると {when} まで")
        return DeadlineStatus(deadline, WAITING_FOR_ANCHOR, None, None, None, text, site_zone, unanswered)
    due_at = due_time(deadline, start, site_zone=site_zone, holidays=holidays)
    # Warned from the earlier count too (never later than the deadline's own warning).
    warn_at = due_at - deadline.warn_before
    if early_due is not None:
        warn_at = min(warn_at, early_due - deadline.warn_before)

    def status(state: str, en: str, ja: str) -> DeadlineStatus:
        time_left = due_at - now if met_at is None and state != MET else None
        return DeadlineStatus(deadline, state, due_at, time_left, met_at, LocalizedText(en, ja), site_zone, unanswered,
                              warn_at=warn_at)

    left = due_at - now
    span = format_span(left)
    if deadline.direction == "not_after":
        if met_at is not None and met_at <= due_at:
            return status(MET, "met on time", "期限内に完了")
        if met_at is not None:
            late = format_span(met_at - due_at)
            return status(BREACHED, f"met {late.en} late", f"{late.ja}遅れて完了")
        if left < timedelta(0):
            return status(OVERDUE, f"overdue by {span.en}", f"{span.ja}超過")
        return status(DUE_SOON if now >= warn_at else PENDING, f"in {span.en}", f"あと{span.ja}")
    if met_at is not None and met_at >= due_at:
        return status(MET, "met", "遵守")
    if met_at is not None:
        ahead = format_span(due_at - met_at)
        return status(BREACHED, f"{ahead.en} too early", f"{ahead.ja}早く実施")
    if left > timedelta(0):
        return status(PENDING, f"allowed in {span.en}", f"あと{span.ja}で可能")
    return status(MET, "allowed now", "実施可能")


def running_deadline(deadline: Deadline, *, due_at: datetime, warn_at: datetime, now: datetime,
                     site_zone: str) -> DeadlineStatus:
    """An open "not after" deadline as `compute_deadline` states it at `now`, from its stored due and
    warning times (the case's next deadline, stored when what it depends on changes)."""
    now, due_at, warn_at = require_aware(now), require_aware(due_at), require_aware(warn_at)
    left = due_at - now
    span = format_span(left)
    if left < timedelta(0):
        state, text = OVERDUE, LocalizedText(f"overdue by {span.en}", f"{span.ja}超過")
    else:
        state, text = DUE_SOON if now >= warn_at else PENDING, LocalizedText(f"in {span.en}", f"あと{span.ja}")
    return DeadlineStatus(deadline, state, due_at, left, None, text, site_zone, warn_at=warn_at)


def compute_deadlines(regime: Regime, anchors: Mapping[str, datetime | None], *, site_zone: str, now: datetime,
                      conditions: Mapping[str, bool | None] | None = None, holidays: Collection[date] = (),
                      record_type: str | None = None) -> list[DeadlineStatus]:
    """The regime's case-level deadlines in definition order or, with `record_type`, the per-record
    deadlines of that type: call once per record (e.g. each adverse event) with anchors and conditions
    resolved from that record alone. `holidays` (e.g. from configuration) add to the regime's own."""
    days_off = regime.holidays | frozenset(holidays)
    return [
        compute_deadline(deadline, anchors, site_zone=site_zone, now=now, conditions=conditions, holidays=days_off)
        for deadline in regime.deadlines
        if deadline.record_type == record_type
    ]


def not_yet_permitted(statuses: Iterable[DeadlineStatus], event: str = "case.administration") -> list[DeadlineStatus]:
    """The "not before" deadlines that forbid `event` now: still closed, or with an unknown start (the
    earliest permitted time cannot be known, so the event must wait)."""
    return [
        status for status in statuses
        if status.deadline.direction == "not_before"
        and status.deadline.met_by.text == event
        and status.state in (PENDING, WAITING_FOR_ANCHOR)
    ]
