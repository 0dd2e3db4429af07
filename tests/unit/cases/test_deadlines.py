"""Regime deadlines from a case's dates: exact hours across daylight-saving changes, whole local days at
the treating site, working days that skip weekends, and the states a dashboard shows."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edms.cases.deadlines import (
    BREACHED,
    DUE_SOON,
    MET,
    NOT_APPLICABLE,
    OVERDUE,
    PENDING,
    WAITING_FOR_ANCHOR,
    DeadlineStatus,
    compute_deadline,
    compute_deadlines,
    due_time,
    format_span,
    not_yet_permitted,
)
from edms.cases.regimes import Deadline, Regime, load_regimes
from edms.documents.types import load_document_types

FORMS = Path(__file__).resolve().parents[3] / "forms"
UTC = UTC
BERLIN, NEW_YORK, TOKYO = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")


@pytest.fixture(scope="module")
def regimes() -> dict[str, Regime]:
    return load_regimes(FORMS / "regimes", load_document_types(FORMS))


def deadline(regimes: dict[str, Regime], regime: str, key: str) -> Deadline:
    return next(d for d in regimes[regime].deadlines if d.key == key)


def status(regimes, regime: str, key: str, anchors: dict, *, zone: str, now: datetime,
           conditions: dict | None = None) -> DeadlineStatus:
    return compute_deadline(deadline(regimes, regime, key), anchors, site_zone=zone, now=now, conditions=conditions)


EMA = "regulatory_notification[authority=ema].notified_at"

# ---------------------------------------------------------------------------------------------------
# Due times across time zones and daylight-saving changes


def test_eu_48_hours_are_elapsed_time_across_the_october_change_in_berlin(regimes):
    # Saturday 10:00 CEST; the night of Sunday 25 October 2026 has 25 hours.
    given = datetime(2026, 10, 24, 10, 0, tzinfo=BERLIN)
    due = due_time(deadline(regimes, "eu", "ema_notified"), given, site_zone="Europe/Berlin")

    assert due == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)
    assert due - given == timedelta(hours=48)
    local = due.astimezone(BERLIN)
    assert (local.hour, local.tzname()) == (9, "CET")  # the wall clock moved, the hours did not


def test_eu_48_hours_across_the_march_change_in_berlin(regimes):
    given = datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN)  # CET; clocks go forward on 29 March
    due = due_time(deadline(regimes, "eu", "ema_notified"), given, site_zone="Europe/Berlin")
    assert due == datetime(2026, 3, 30, 11, 0, tzinfo=UTC)
    assert due.astimezone(BERLIN).strftime("%H:%M %Z") == "13:00 CEST"


def test_us_5_working_days_skip_the_weekend_and_end_at_local_midnight_after_the_november_change(regimes):
    irb = deadline(regimes, "us_emergency", "irb_notified_5_working_days")
    # Thursday 29 October 2026, 15:00 EDT; DST ends on Sunday 1 November.
    due = due_time(irb, datetime(2026, 10, 29, 15, 0, tzinfo=NEW_YORK), site_zone="America/New_York")

    # Fri 30, Mon 2, Tue 3, Wed 4, Thu 5 November: due by 24:00 EST on Thursday 5 November.
    assert due == datetime(2026, 11, 6, 5, 0, tzinfo=UTC)
    assert due.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M %Z") == "2026-11-06 00:00 EST"


def test_working_days_count_from_the_sites_local_date_not_the_utc_date(regimes):
    irb = deadline(regimes, "us_emergency", "irb_notified_5_working_days")
    late_thursday = datetime(2026, 10, 29, 23, 30, tzinfo=NEW_YORK)  # already Friday in UTC
    assert late_thursday.astimezone(UTC).weekday() == 4
    assert due_time(irb, late_thursday, site_zone="America/New_York") == datetime(2026, 11, 6, 5, 0, tzinfo=UTC)


def test_a_clock_started_at_the_weekend_counts_from_monday_and_holidays_are_skipped(regimes):
    irb = deadline(regimes, "us_emergency", "irb_notified_5_working_days")
    saturday = datetime(2026, 10, 31, 9, 0, tzinfo=NEW_YORK)
    assert due_time(irb, saturday, site_zone="America/New_York").astimezone(NEW_YORK).date() == date(2026, 11, 7)

    with_holiday = due_time(irb, saturday, site_zone="America/New_York", holidays={date(2026, 11, 3)})
    assert with_holiday.astimezone(NEW_YORK).date() == date(2026, 11, 10)  # Mon 9 counted, due end of Mon 9


def test_written_ind_15_working_days_from_the_telephone_authorisation(regimes):
    written = deadline(regimes, "us_emergency", "written_ind_15_working_days")
    due = due_time(written, datetime(2026, 10, 29, 18, 0, tzinfo=NEW_YORK), site_zone="America/New_York")
    assert due.astimezone(NEW_YORK) == datetime(2026, 11, 20, 0, 0, tzinfo=NEW_YORK)  # end of Thu 19 November


def test_us_30_calendar_days_not_before_opens_at_the_start_of_the_local_day(regimes):
    thirty = deadline(regimes, "us", "treatment_not_before_30_days")
    received = datetime(2026, 10, 20, 11, 0, tzinfo=NEW_YORK)  # EDT
    opens = due_time(thirty, received, site_zone="America/New_York")
    assert opens == datetime(2026, 11, 19, 5, 0, tzinfo=UTC)  # 00:00 EST on 19 November
    assert opens.astimezone(NEW_YORK).strftime("%H:%M %Z") == "00:00 EST"


def test_jp_7_days_use_the_local_date_in_tokyo(regimes):
    seven = deadline(regimes, "jp_current", "trial_safety_report_7_days")
    known = datetime(2026, 3, 11, 7, 0, tzinfo=TOKYO)  # 22:00 UTC on 10 March
    due = due_time(seven, known, site_zone="Asia/Tokyo")
    assert due == datetime(2026, 3, 18, 15, 0, tzinfo=UTC)  # 24:00 JST on 18 March
    assert due.astimezone(TOKYO) == datetime(2026, 3, 19, 0, 0, tzinfo=TOKYO)


# ---------------------------------------------------------------------------------------------------
# States


def test_pending_due_soon_overdue_met_and_breached(regimes):
    given = datetime(2026, 10, 24, 8, 0, tzinfo=UTC)
    anchors = {"case.administration": given}

    def at(hours: float, notified: float | None = None) -> DeadlineStatus:
        moments = dict(anchors)
        if notified is not None:
            moments[EMA] = given + timedelta(hours=notified)
        return status(regimes, "eu", "ema_notified", moments, zone="Europe/Berlin", now=given + timedelta(hours=hours))

    pending = at(9)
    assert (pending.state, pending.time_left, pending.human.en, pending.human.ja) == (
        PENDING, timedelta(hours=39), "in 1 day 15 h", "あと1日15時間")
    assert at(36.5).state == DUE_SOON and at(36.5).needs_attention  # warn_before = 12 hours
    assert at(48).state == DUE_SOON and at(48).human.en == "in less than 1 min"
    overdue = at(50)
    assert (overdue.state, overdue.time_left, overdue.human.en, overdue.human.ja) == (
        OVERDUE, timedelta(hours=-2), "overdue by 2 h", "2時間超過")
    on_time = at(60, notified=48)
    assert (on_time.state, on_time.met_at, on_time.time_left, on_time.human.en) == (
        MET, given + timedelta(hours=48), None, "met on time")
    late = at(60, notified=49.25)
    assert (late.state, late.human.en) == (BREACHED, "met 1 h 15 min late")
    assert late.human.ja == "1時間15分遅れて完了"
    assert late.due_local.tzname() == "CET"


def test_waiting_for_the_anchor_names_it(regimes):
    waiting = status(regimes, "eu", "ema_notified", {}, zone="Europe/Berlin", now=datetime(2026, 10, 24, tzinfo=UTC))
    assert (waiting.state, waiting.due_at) == (WAITING_FOR_ANCHOR, None)
    assert waiting.human.en == "waiting for: Administration" and waiting.human.ja == "投与待ち"


@pytest.mark.req("11.10(f)")
def test_treatment_before_fda_receipt_plus_30_days_is_not_yet_permitted(regimes):
    received = datetime(2026, 10, 20, 15, 0, tzinfo=UTC)
    anchors = {"fda_acknowledgement.fda_received_at": received}
    answers = {"fda_allowed_earlier": False}

    def run(now: datetime, given: datetime | None = None) -> list[DeadlineStatus]:
        moments = {**anchors, "case.administration": given}
        return compute_deadlines(regimes["us"], moments, site_zone="America/New_York", now=now, conditions=answers)

    before = run(datetime(2026, 11, 18, 12, tzinfo=UTC))
    (thirty,) = not_yet_permitted(before)
    assert (thirty.key, thirty.state, thirty.human.en) == ("treatment_not_before_30_days", PENDING, "allowed in 17 h")
    assert [s.state for s in before if s.key == "treatment_not_before_fda_permission"] == [NOT_APPLICABLE]

    after = run(datetime(2026, 11, 19, 6, tzinfo=UTC))
    assert not not_yet_permitted(after)
    assert after[0].state == MET and after[0].human.en == "allowed now"

    too_early = run(datetime(2026, 11, 20, tzinfo=UTC), given=datetime(2026, 11, 18, 5, tzinfo=UTC))[0]
    assert (too_early.state, too_early.human.en) == (BREACHED, "1 day too early")
    on_day_30 = run(datetime(2026, 11, 20, tzinfo=UTC), given=datetime(2026, 11, 19, 5, tzinfo=UTC))[0]
    assert on_day_30.state == MET


def test_fdas_earlier_permission_replaces_the_30_days(regimes):
    allowed = datetime(2026, 10, 23, 14, 0, tzinfo=UTC)
    anchors = {"fda_acknowledgement.fda_received_at": datetime(2026, 10, 20, 15, tzinfo=UTC),
               "fda_acknowledgement.earlier_treatment_allowed_at": allowed}
    statuses = compute_deadlines(regimes["us"], anchors, site_zone="America/New_York",
                                 now=datetime(2026, 10, 23, 15, tzinfo=UTC), conditions={"fda_allowed_earlier": True})
    assert [(s.key, s.state) for s in statuses] == [
        ("treatment_not_before_30_days", NOT_APPLICABLE),
        ("treatment_not_before_fda_permission", MET),
    ]


def test_while_fdas_answer_is_unknown_the_30_days_apply_and_are_flagged(regimes):
    anchors = {"fda_acknowledgement.fda_received_at": datetime(2026, 10, 20, 15, tzinfo=UTC)}
    statuses = compute_deadlines(regimes["us"], anchors, site_zone="America/New_York",
                                 now=datetime(2026, 10, 21, tzinfo=UTC), conditions={})
    assert statuses[0].state == PENDING and statuses[0].condition_unanswered
    assert statuses[1].state == WAITING_FOR_ANCHOR  # the earlier permission has no time yet
    assert [s.key for s in not_yet_permitted(statuses)] == ["treatment_not_before_30_days",
                                                             "treatment_not_before_fda_permission"]


def test_safety_clocks_run_per_report_and_only_for_their_category(regimes):
    known = datetime(2026, 12, 1, 9, 0, tzinfo=NEW_YORK)
    anchors = {"safety_report.awareness_at": known}
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    case_level = compute_deadlines(regimes["us"], anchors, site_zone="America/New_York", now=now)
    assert "ind_safety_report_7_days" not in [s.key for s in case_level]

    fifteen_day = {"unexpected_fatal_or_life_threatening": False, "serious_unexpected": True}
    per_report = compute_deadlines(regimes["us"], anchors, site_zone="America/New_York", now=now,
                                   conditions=fifteen_day, record_type="safety_report")
    assert [(s.key, s.state) for s in per_report] == [
        ("ind_safety_report_7_days", NOT_APPLICABLE),
        ("ind_safety_report_15_days", PENDING),
    ]
    assert per_report[1].due_local == datetime(2026, 12, 17, 0, 0, tzinfo=NEW_YORK)

    seven_day = {"unexpected_fatal_or_life_threatening": True, "serious_unexpected": True}
    urgent = compute_deadlines(regimes["us"], anchors, site_zone="America/New_York", now=now,
                               conditions=seven_day, record_type="safety_report")
    assert urgent[0].due_at == datetime(2026, 12, 9, 5, 0, tzinfo=UTC)  # 24:00 EST on 8 December
    assert (urgent[0].state, urgent[0].human.en) == (PENDING, "in 2 days 17 h")
    next_day = compute_deadlines(regimes["us"], anchors, site_zone="America/New_York", now=now + timedelta(days=1),
                                 conditions=seven_day, record_type="safety_report")
    assert next_day[0].state == DUE_SOON  # within warn_before = 2 calendar days


# ---------------------------------------------------------------------------------------------------
# Formatting and input checks


@pytest.mark.parametrize(
    ("delta", "en", "ja"),
    [
        (timedelta(days=1, hours=3, minutes=20), "1 day 3 h", "1日3時間"),
        (timedelta(days=2), "2 days", "2日"),
        (timedelta(hours=2, minutes=15), "2 h 15 min", "2時間15分"),
        (timedelta(hours=-2), "2 h", "2時間"),
        (timedelta(minutes=45, seconds=59), "45 min", "45分"),
        (timedelta(seconds=30), "less than 1 min", "1分未満"),
    ],
)
def test_spans_show_the_two_largest_units(delta, en, ja):
    assert (format_span(delta).en, format_span(delta).ja) == (en, ja)


def test_naive_times_and_unknown_zones_are_refused(regimes):
    anchors = {"case.administration": datetime(2026, 10, 24, 8, tzinfo=UTC)}
    with pytest.raises(ValueError, match="naive"):
        status(regimes, "eu", "ema_notified", anchors, zone="Europe/Berlin", now=datetime(2026, 10, 24))
    with pytest.raises(ValueError, match="unknown time zone"):
        status(regimes, "eu", "ema_notified", anchors, zone="Europe/Bonn", now=datetime(2026, 10, 24, tzinfo=UTC))
