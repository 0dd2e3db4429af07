"""Every regime says how long its records are kept, from when and why (21 CFR 11.10(c)); a broken declaration
stops start-up naming the file and the field; each record's end is counted in whole years at the treating site."""
from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edms.cases import deadlines as dl
from edms.cases.regimes import CaseRecord, RegimeError, load_regimes, resolve_anchors, resolve_conditions
from edms.cases.retention import add_years, record_retention
from edms.documents.types import load_document_types
from tests.unit.cases.test_regimes import MINIMAL, SHIPPED, write

ROOT = Path(__file__).resolve().parents[3]
BERLIN = ZoneInfo("Europe/Berlin")
RETENTION = '[retention]\nperiod = "30 years"\nfrom = "case.administration"\nsource = "R1"\n'


@pytest.fixture(scope="module")
def types():
    return load_document_types(ROOT / "forms")


@pytest.fixture(scope="module")
def regimes(types):
    return load_regimes(ROOT / "forms" / "regimes", types)


@pytest.mark.req("11.10(c)")
@pytest.mark.parametrize("key", SHIPPED)
def test_every_shipped_regime_declares_its_retention_with_a_source(regimes, key):
    retention = regimes[key].retention
    assert retention is not None and retention.years >= 10 and retention.source
    assert retention.start == "case.administration"
    assert retention.period.en.startswith(f"{retention.years} years from") and retention.period.ja


@pytest.mark.req("11.10(c)")
def test_the_longest_plausible_periods_are_kept_where_the_start_is_not_recorded(regimes):
    # 30 years after expiry (EU ATMP traceability; JP designated products) counted from administration + 2 years.
    assert {key: regimes[key].retention.years for key in SHIPPED} == {
        "eu": 32, "us": 10, "us_emergency": 10, "us_protocol": 10, "jp_current": 32, "jp_proposed": 32}
    assert "1394/2007 Art. 15(4)" in regimes["eu"].retention.source
    assert "1271.270(d)" in regimes["us"].retention.source and "312.62(c)" in regimes["us"].retention.source
    assert all(regimes[key].retention.assumption and regimes[key].retention.note for key in SHIPPED)


@pytest.mark.req("11.10(c)")
@pytest.mark.parametrize(
    ("old", "new", "where", "message"),
    [
        (RETENTION, "", "retention", "missing (required)"),
        ('period = "30 years"', 'period = "30 yrs"', "retention.period", "'30 yrs' is not a retention period"),
        ('period = "30 years"', 'period = "0 years"', "retention.period", "is not a retention period"),
        ('period = "30 years"', "period = 30", "retention.period", "expected a string"),
        ('from = "case.administration"', 'from = "case.expiry"', "retention.from",
         "'case.expiry' is not a moment retention can run from"),
        ('from = "case.administration"', 'from = "record.signed"', "retention.from", "expected record.approved"),
        ('source = "R1"\n', "", "retention.source", "missing (required)"),
        ('source = "R1"', 'source = "R1"\nassumption = true', "retention.note", "needs a note"),
        ('source = "R1"', 'source = "R1"\nkeep = "forever"', "retention.keep", "unknown key 'keep'"),
        (RETENTION, 'retention = "30 years"\n', "retention", "expected a table"),
        ('source = "S3"', 'source = "S3"\nretention = { period = "10 years", from = "case.infusion", source = "R2" }',
         "documents[2].retention.from", "'case.infusion' is not a moment"),
        ('source = "S3"', 'source = "S3"\nretention = { period = "10 years", from = "record.approved" }',
         "documents[2].retention.source", "missing (required)"),
    ],
)
def test_a_bad_retention_declaration_is_refused_naming_the_file_and_the_field(tmp_path, types, old, new, where, message):
    assert RETENTION in MINIMAL and old in MINIMAL
    path = write(tmp_path, MINIMAL.replace(old, new, 1))
    with pytest.raises(RegimeError) as caught:
        load_regimes(tmp_path, types)
    assert str(caught.value).startswith(f"{path}: {where}: "), str(caught.value)
    assert message in str(caught.value)


@pytest.mark.req("11.10(c)")
def test_a_record_type_whose_retention_differs_declares_its_own(tmp_path, types):
    text = MINIMAL.replace('source = "S3"', 'source = "S3"\nretention = { period = "40 years", from = '
                           '"record.approved", source = "Agreement clause 12" }', 1)
    write(tmp_path, text)
    regime = load_regimes(tmp_path, types)["test"]
    assert regime.retention_of("mah_agreement").years == 40
    assert regime.retention_of("mah_agreement").key == "mah_agreement.retention"
    assert regime.retention_of("qa_release") is regime.retention

    approved = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo on 1 March
    own = record_retention(regime, number="AGR-2026-0001", type_key="mah_agreement", case_dates={},
                           approved_at=approved, site_zone="Asia/Tokyo")
    assert own.keep_until == date(2066, 3, 1) and own.text.en == "until 2066-03-01"


@pytest.mark.req("11.10(c)")
def test_retention_runs_in_whole_years_from_the_local_date_at_the_site_and_never_ends_early(regimes):
    eu = regimes["eu"]
    # 23:30 UTC on 31 Dec 2026 is already 1 January 2027 in Berlin: the local date counts.
    given = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    row = record_retention(eu, number="REL-2026-0001", type_key="qa_release", case_dates={"administration": given},
                           approved_at=None, site_zone="Europe/Berlin")
    assert row.keep_until == date(2059, 1, 1) and row.starts_at == given
    assert add_years(date(2028, 2, 29), 30) == date(2058, 3, 1)  # never the earlier 28 February
    waiting = record_retention(eu, number="REL-2026-0002", type_key="qa_release", case_dates={}, approved_at=None,
                               site_zone="Europe/Berlin")
    assert waiting.keep_until is None
    assert waiting.text.en == "32 years from administration (not recorded yet)"
    assert waiting.text.ja == "投与から32年（投与は未記録）"


def test_the_eu_48_hour_clock_is_due_from_administration_and_warned_from_supply(regimes):
    eu = regimes["eu"]
    supplied = datetime(2026, 10, 22, 9, 0, tzinfo=BERLIN)
    given = datetime(2026, 10, 23, 15, 0, tzinfo=BERLIN)
    [ema] = [d for d in eu.deadlines if d.key == "ema_notified"]
    assert ema.warn_from.text == "case.supply" and "Sasai" in ema.source and "EMA Q&A" in ema.source

    def state(now: datetime, dates: dict) -> dl.DeadlineStatus:
        anchors = resolve_anchors(eu, case_dates=dates, records=[])
        return dl.compute_deadline(ema, anchors, site_zone="Europe/Berlin", now=now)

    waiting = state(datetime(2026, 10, 22, 12, tzinfo=BERLIN), {"supply": supplied})
    assert waiting.state == dl.WAITING_FOR_ANCHOR
    assert "counted from lot supplied to the treating site: by 2026-10-24 09:00:00 CEST" in waiting.human.en
    # Given the next day: due 48 hours after administration, but warned 12 hours before 48 hours after supply.
    early = state(datetime(2026, 10, 23, 22, 0, tzinfo=BERLIN), {"supply": supplied, "administration": given})
    assert early.due_at == datetime(2026, 10, 25, 14, 0, tzinfo=BERLIN) and early.state == dl.DUE_SOON  # CET by then
    quiet = state(datetime(2026, 10, 23, 20, 0, tzinfo=BERLIN), {"supply": supplied, "administration": given})
    assert quiet.state == dl.PENDING
    # Never overdue because of the supply count alone: overdue only after the administration deadline.
    assert state(datetime(2026, 10, 24, 12, tzinfo=BERLIN), {"supply": supplied, "administration": given}).state == \
        dl.DUE_SOON


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('source = "S6"', 'source = "S6"\nwarn_from = "case.administration"', "another moment"),
        ('direction = "not_after"', 'direction = "not_before"\nwarn_from = "case.supply"', "only to not_after"),
        ('source = "S6"', 'source = "S6"\nwarn_from = "case.shipping"', "unknown case date 'shipping'"),
    ],
)
def test_a_bad_warn_from_is_refused(tmp_path, types, old, new, message):
    path = write(tmp_path, MINIMAL.replace(old, new, 1))
    with pytest.raises(RegimeError) as caught:
        load_regimes(tmp_path, types)
    assert str(caught.value).startswith(f"{path}: deadlines[0].warn_from: ")
    assert message in str(caught.value)


def test_the_eu_adverse_reaction_clocks_follow_the_reports_seriousness(regimes):
    eu = regimes["eu"]
    aware = datetime(2026, 11, 2, 9, 0, tzinfo=BERLIN)
    def clocks(serious: bool) -> dict[str, str]:
        record = CaseRecord("safety_report", {"serious": serious, "awareness_at": aware, "submitted_at": None},
                            approved=True)
        anchors = resolve_anchors(eu, case_dates={}, records=[record])
        conditions = resolve_conditions(eu, answers={}, records=[record])
        return {d.key: (d.state, d.due_local.date().isoformat() if d.due_at else None) for d in dl.compute_deadlines(
            eu, anchors, site_zone="Europe/Berlin", now=aware, conditions=conditions, record_type="safety_report")}

    assert clocks(True) == {"serious_reaction_15_days": (dl.PENDING, "2026-11-18"),
                            "non_serious_reaction_90_days": (dl.NOT_APPLICABLE, None)}
    assert clocks(False) == {"serious_reaction_15_days": (dl.NOT_APPLICABLE, None),
                             "non_serious_reaction_90_days": (dl.PENDING, "2027-02-01")}
