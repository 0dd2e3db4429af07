"""Issue 17, as regulatory affairs would check it, through whole cases on SQLite and PostgreSQL: the US
manufacturer's expanded-access protocol (no 30-day wait per patient), the safety clocks of every regime
(EU 15/90 days, JP expected deaths in 15 days, JP post-marketing 15/30 days) and each record's retention end
on the case page and in the inspection package (21 CFR 11.10(c)).

Cases are driven as in test_regimes_end_to_end.py (tests/support/case_driver.py): real people, keys,
certificates and time-stamps; every wrong attempt refused and audited."""
from __future__ import annotations

import io
import json
import zipfile
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from edms.cases import deadlines as dl
from tests.conftest import bearer, csrf_token, sign_in
from tests.integration.test_regimes_end_to_end import (
    assert_all_refusals_audited_and_everything_verifies,
    assert_case_complete,
    assert_release_allowed,
    close_the_case,
    name,
    oos_values,
)
from tests.support.case_driver import CaseDriver, cast_ready
from tests.support.inspection import exported_package

TOKYO, CHICAGO, BERLIN = ZoneInfo("Asia/Tokyo"), ZoneInfo("America/Chicago"), ZoneInfo("Europe/Berlin")


@pytest.fixture
def driver(app, organisation_pki) -> CaseDriver:
    services = app.extensions["edms"]
    return CaseDriver(services, cast_ready(services))


def viability_oos(day: str) -> dict:
    return oos_values("viability", "71.0", "≥ 80 % viable cells", "%", "Flow cytometry, 7-AAD exclusion (SOP-QC-112)",
                      day)


def report_clocks(d: CaseDriver, now: datetime, index: int = 0) -> dict[str, dl.DeadlineStatus]:
    return {c.key: c for c in d.record_deadlines("safety_report", now=now)[index]}


# --- US: the manufacturer's expanded-access protocol ----------------------------------------------------------


def us_protocol_case_released(d: CaseDriver) -> None:
    """A lot of a marketed anti-BCMA CAR-T below its CAR expression limit, given under the manufacturer's
    intermediate-size protocol: released once the site IRB's approval of the protocol is on file."""
    d.open_case("us_protocol", product="Autologous anti-BCMA CAR-T (ciltacabtagene-like), marketed",
                lot="U2026-0420", patient_ref="PT-US2210", site="MD Anderson Cancer Center, Houston",
                zone="America/Chicago", physician="emily.chen",
                oos_detected_at=datetime(2026, 11, 2, 15, 0, tzinfo=CHICAGO))
    d.sign_all(d.create("oos_notification", oos_values(
        "car_expression", "15.0", "≥ 20 % CAR+ of viable T cells", "%", "Flow cytometry (SOP-QC-121)", "2026-11-02")))
    d.sign_all(d.create("deviation_report"))
    d.sign_all(d.create("protocol_enrolment", {
        "protocol_type": "intermediate_size", "protocol_number": "EAP-BCMA-OOS-01", "ind_number": "027731",
        "protocol_in_effect": True, "eligibility_met": True, "enrolled_at": "2026-11-03T10:00:00-06:00",
        "eligibility_assessment": "Relapsed myeloma after 4 lines; only this OOS lot remains; all criteria met."}))
    d.sign_all(d.create("physician_justification", {"urgency": "urgent"}))
    consent = d.create("informed_consent", {"consent_date": "2026-11-04"})
    release = d.create("qa_release", by="emi.nakamura")
    # Without the site IRB's approval of the protocol on file neither consent nor release may be signed.
    d.gate_closed(consent, *name(d, "ethics_approval"))
    d.gate_closed(release, *name(d, "ethics_approval", "informed_consent"))
    d.sign_all(d.create("ethics_approval", {
        "committee_name": "MD Anderson IRB", "committee_type": "irb_21cfr56", "committee_reference": "IRB-2026-1108",
        "review_type": "protocol_approval", "patient_ref": None, "decision": "approved",
        "submitted_at": "2026-09-01T10:00:00-05:00", "decision_date": "2026-09-15"}))
    d.sign_all(consent)
    d.sign_all(release)


@pytest.mark.req("11.10(f)")
def test_us_protocol_case_is_released_without_a_30_day_wait_once_irb_approval_is_on_file(driver, organisation_pki):
    d = driver
    us_protocol_case_released(d)
    # Released on 4 November, given the next morning: no clock forbids it and none waits 30 days.
    now = datetime(2026, 11, 4, 16, 0, tzinfo=CHICAGO)
    assert_release_allowed(d, now)
    status = d.status(now)
    assert [x.deadline.direction for x in status.deadlines if x.deadline.direction == "not_before"] == []
    assert "30" not in " ".join(b.reason.en for b in status.administration_blockers)
    d.record_date("administration", datetime(2026, 11, 5, 9, 0, tzinfo=CHICAGO), by="emily.chen")

    # The manufacturer reports under its IND (15 days, serious and unexpected); the IRB hears of the problem.
    d.answer("adverse_event", True, by="emily.chen")
    d.answer("unanticipated_problem", True, by="emily.chen")
    d.sign_all(d.create("safety_report", {
        "event_term": "Cytokine release syndrome, grade 3", "onset_date": "2026-11-06", "serious": True,
        "awareness_at": "2026-11-06T08:00:00-06:00", "expectedness": "unexpected", "reporting_category": "fifteen_day",
        "report_to": ["fda", "manufacturer"], "submitted_at": "2026-11-16T10:00:00-06:00",
        "related_documents": d.numbers(("qa_release",))}))
    d.sign_all(d.create("irb_problem_report", {
        "committee_name": "MD Anderson IRB", "problem": "Grade 3 CRS after a lot below the CAR expression limit.",
        "aware_at": "2026-11-06T08:00:00-06:00", "reported_at": "2026-11-12T09:00:00-06:00"}))
    later = datetime(2026, 11, 24, tzinfo=CHICAGO)
    assert {k: c.state for k, c in report_clocks(d, later).items()} == {
        "ind_safety_report_7_days": dl.NOT_APPLICABLE, "ind_safety_report_15_days": dl.MET}
    assert {x.key: x.state for x in d.status(later).deadlines} == {
        "ind_safety_report_7_days": dl.NOT_APPLICABLE, "ind_safety_report_15_days": dl.MET,
        "irb_problem_reported": dl.MET}
    assert_case_complete(d, later)
    # No single-patient IND records: no Letter of Authorization, no FDA acknowledgement, no written summary.
    assert {item.document.type_key for item in d.status(later).checklist}.isdisjoint(
        {"letter_of_authorization", "fda_acknowledgement", "treatment_summary"})
    close_the_case(d)
    assert_all_refusals_audited_and_everything_verifies(d, organisation_pki)


def test_the_protocol_route_is_chosen_by_key_when_a_case_is_opened_over_the_api(driver, client):
    headers = bearer(client, "naoko.ito")
    response = client.post("/api/v1/cases", headers=headers, json={
        "regime": "us_protocol", "product": "Autologous anti-BCMA CAR-T, marketed", "lot": "U2026-0477",
        "patient_ref": "PT-US2299", "treating_site": "MD Anderson Cancer Center, Houston",
        "site_timezone": "America/Chicago", "physician_id": driver.ids["emily.chen"],
        "oos_detected_at": "2026-11-02T15:00:00-06:00"})
    assert response.status_code == 201, response.json
    case = response.json
    assert (case["regime"], case["jurisdiction"]) == ("us_protocol", "US")
    assert [item["type"] for item in case["checklist"]][:3] == ["oos_notification", "deviation_report",
                                                                "protocol_enrolment"]
    assert [d["key"] for d in case["deadlines"] if d["direction"] == "not_before"] == []
    assert not any("30 days" in reason for reason in case["administration_blockers"])


# --- EU: adverse reactions after an exceptional supply --------------------------------------------------------


def eu_case_released(d: CaseDriver) -> None:
    d.open_case("eu", product="Autologous anti-CD19 CAR-T (axicabtagene-like)", lot="E2026-0131",
                patient_ref="PT-EU4402", site="Charité – Universitätsmedizin Berlin", zone="Europe/Berlin",
                physician="lukas.weber", oos_detected_at=datetime(2026, 11, 2, 10, 0, tzinfo=BERLIN))
    d.answer("manufacturer_is_not_mah", False, by="akiko.tanaka")
    d.sign_all(d.create("oos_notification", viability_oos("2026-11-02")))
    d.sign_all(d.create("deviation_report"))
    d.sign_all(d.create("physician_justification", {"urgency": "urgent"}))
    d.sign_all(d.create("supply_request", {"treating_site": "Charité – Universitätsmedizin Berlin",
                                           "requested_at": "2026-11-03T09:00:00+01:00",
                                           "planned_administration": "2026-11-06"}))
    d.sign_all(d.create("informed_consent", {"consent_date": "2026-11-03"}))
    d.sign_all(d.create("physician_acceptance", {"physician_name": "Dr. med. Lukas Weber",
                                                 "received_at": "2026-11-03T17:00:00+01:00"}))
    d.sign_all(d.create("qa_release", by="emi.nakamura"))


def test_eu_case_whose_serious_adverse_reaction_report_is_overdue_on_day_16(driver, organisation_pki):
    d = driver
    eu_case_released(d)
    # Supplied on the 5th, given on the 6th: the 48-hour notices are due from administration, warned from supply.
    d.record_date("supply", datetime(2026, 11, 5, 8, 0, tzinfo=BERLIN), by="akiko.tanaka")
    waiting = {x.key: x for x in d.status(datetime(2026, 11, 5, 12, tzinfo=BERLIN)).deadlines}["ema_notified"]
    assert waiting.state == dl.WAITING_FOR_ANCHOR and "by 2026-11-07 08:00:00 CET" in waiting.human.en
    d.record_date("administration", datetime(2026, 11, 6, 14, 0, tzinfo=BERLIN), by="lukas.weber")
    warned = {x.key: x for x in d.status(datetime(2026, 11, 6, 21, 0, tzinfo=BERLIN)).deadlines}["ema_notified"]
    assert warned.state == dl.DUE_SOON and warned.due_local == datetime(2026, 11, 8, 14, 0, tzinfo=BERLIN)

    # A serious suspected adverse reaction known on 9 November (day 0): due by 24:00 on the 24th (day 15).
    d.answer("adverse_event", True, by="lukas.weber")
    report = d.create("safety_report", {
        "event_term": "Immune effector cell-associated neurotoxicity syndrome, grade 3", "onset_date": "2026-11-09",
        "awareness_at": "2026-11-09T11:00:00+01:00", "serious": True, "seriousness_criteria": ["hospitalisation"],
        "fatal_or_life_threatening": False, "expectedness": "expected", "reporting_category": "not_expedited",
        "report_to": ["ema"], "submitted_at": None, "related_documents": d.numbers(("qa_release",))})
    d.sign_all(report)  # assessed by regulatory affairs, not yet sent to EudraVigilance
    day_15 = report_clocks(d, datetime(2026, 11, 24, 20, 0, tzinfo=BERLIN))
    assert day_15["serious_reaction_15_days"].state == dl.DUE_SOON
    assert day_15["serious_reaction_15_days"].due_local == datetime(2026, 11, 25, tzinfo=BERLIN)
    assert day_15["non_serious_reaction_90_days"].state == dl.NOT_APPLICABLE
    day_16 = report_clocks(d, datetime(2026, 11, 25, 9, 0, tzinfo=BERLIN))
    assert day_16["serious_reaction_15_days"].state == dl.OVERDUE
    assert day_16["serious_reaction_15_days"].human.en == "overdue by 9 h"
    shown = {x.key: x.state for x in d.status(datetime(2026, 11, 25, 9, 0, tzinfo=BERLIN)).deadlines}
    assert shown["serious_reaction_15_days"] == dl.OVERDUE  # the case page and the dashboard list it

    # Sent on day 17: the clock is kept as breached, late by the time it took.
    d.revise(report, "Sent to EudraVigilance.", "lukas.weber", {"submitted_at": "2026-11-26T10:00:00+01:00",
                                                               "authority_reference": "EU-EC-2026-88812"})
    d.sign_all(report)
    late = report_clocks(d, datetime(2026, 11, 27, tzinfo=BERLIN))["serious_reaction_15_days"]
    assert late.state == dl.BREACHED and late.human.en == "met 1 day 10 h late"
    assert_all_refusals_audited_and_everything_verifies(d, organisation_pki)


# --- Japan today: expected deaths in the trial --------------------------------------------------------------------


def jp_current_case_released(d: CaseDriver) -> None:
    d.open_case("jp_current", product="Autologous anti-CD19 CAR-T, investigational", lot="L2026-0577",
                patient_ref="PT-JP7781", site="Osaka University Hospital", zone="Asia/Tokyo", physician="yuki.mori",
                oos_detected_at=datetime(2026, 11, 2, 9, 0, tzinfo=TOKYO))
    d.sign_all(d.create("oos_notification", viability_oos("2026-11-02")))
    d.sign_all(d.create("regulatory_notification", {
        "authority": "pmda", "jurisdiction": "JP", "notified_at": "2026-04-10T10:00:00+09:00",
        "what_notified": "Clinical trial notification (治験計画届) of the trial under which the OOS lot is supplied."}))
    d.sign_all(d.create("ethics_approval", {
        "committee_name": "Osaka University Hospital IRB (治験審査委員会)", "committee_type": "gcp_irb",
        "review_type": "protocol_approval", "patient_ref": None, "decision": "approved",
        "submitted_at": "2026-04-20T10:00:00+09:00", "decision_date": "2026-05-12"}))
    d.sign_all(d.create("informed_consent", {"consent_date": "2026-11-05"}))
    d.sign_all(d.create("physician_justification"))
    d.sign_all(d.create("deviation_report"))
    # J-GCP: the lot is delivered to the institution only once its head has approved the trial.
    release = d.create("qa_release", by="emi.nakamura")
    d.gate_closed(release, *name(d, "institution_head_approval"))
    head = d.create("institution_head_approval", {
        "institution": "Osaka University Hospital", "head_name": "Director of Osaka University Hospital",
        "protocol_number": "CART-JP-301", "decision": "not_approved", "decided_on": "2026-05-14"})
    d.sign_all(head)
    d.gate_closed(release, "Decision is Trial not approved (needed: Trial approved at the institution)")
    d.revise(head, "Recorded from the wrong notice: the head approved the trial.", "yuki.mori",
             {"decision": "approved", "irb_opinion": d.numbers(("ethics_approval",))})
    d.sign_all(head)
    d.sign_all(release)


@pytest.mark.req("11.10(f)")
def test_jp_current_case_whose_expected_death_starts_the_15_day_trial_safety_report(driver, organisation_pki):
    d = driver
    jp_current_case_released(d)
    d.record_date("administration", datetime(2026, 11, 9, 10, 0, tzinfo=TOKYO), by="yuki.mori")
    d.answer("adverse_event", True, by="yuki.mori")
    # A death from CRS, which the investigator's brochure lists: expected, yet reported within 15 days.
    report = d.create("safety_report", {
        "event_term": "Cytokine release syndrome, grade 5", "onset_date": "2026-11-10", "serious": True,
        "seriousness_criteria": ["death"], "fatal_or_life_threatening": True, "expectedness": "expected",
        "awareness_at": "2026-11-12T08:00:00+09:00", "reporting_category": "expected_fatal",
        "report_to": ["pmda"], "submitted_at": None, "related_documents": d.numbers(("qa_release",))})
    d.sign_all(report)
    clocks = report_clocks(d, datetime(2026, 11, 20, tzinfo=TOKYO))
    assert {k: c.state for k, c in clocks.items()} == {
        "trial_safety_report_7_days": dl.NOT_APPLICABLE, "trial_safety_report_15_days": dl.NOT_APPLICABLE,
        "trial_safety_report_15_days_expected": dl.PENDING}
    assert clocks["trial_safety_report_15_days_expected"].due_local == datetime(2026, 11, 28, tzinfo=TOKYO)
    assert report_clocks(d, datetime(2026, 11, 28, 0, 30, tzinfo=TOKYO))[
        "trial_safety_report_15_days_expected"].state == dl.OVERDUE
    d.revise(report, "Reported to PMDA.", "yuki.mori", {"submitted_at": "2026-11-25T15:00:00+09:00"})
    d.sign_all(report)
    assert report_clocks(d, datetime(2026, 11, 28, 0, 30, tzinfo=TOKYO))[
        "trial_safety_report_15_days_expected"].state == dl.MET
    assert_all_refusals_audited_and_everything_verifies(d, organisation_pki)


# --- Japan, proposed: post-marketing reports of the MAH -----------------------------------------------------------


def jp_proposed_case_released(d: CaseDriver) -> None:
    d.open_case("jp_proposed", product="Autologous anti-CD19 CAR-T (tisagenlecleucel-like)", lot="J2026-0140",
                patient_ref="PT-JP5521", site="Kyoto University Hospital", zone="Asia/Tokyo", physician="yuki.mori",
                oos_detected_at=datetime(2026, 11, 2, 14, 0, tzinfo=TOKYO))
    d.sign_all(d.create("waivable_items_list", {"waivable_tests": ["viability", "car_expression"]}))
    d.sign_all(d.create("oos_notification", viability_oos("2026-11-02")))
    d.sign_all(d.create("deviation_report"))
    d.sign_all(d.create("physician_justification"))
    d.sign_all(d.create("informed_consent", {"consent_date": "2026-11-04"}))
    d.sign_all(d.create("supply_request", {"treating_site": "Kyoto University Hospital",
                                           "requested_at": "2026-11-04T10:00:00+09:00"}))
    d.sign_all(d.create("ethics_approval", {"committee_name": "Kyoto University Hospital Ethics Committee",
                                            "committee_reference": "R-2026-1301", "patient_ref": "PT-JP5521",
                                            "submitted_at": "2026-11-04T11:00:00+09:00",
                                            "decision_date": "2026-11-05"}))
    d.sign_all(d.create("qa_release", by="emi.nakamura"))


def test_jp_proposed_post_marketing_reports_run_15_and_30_days_as_the_pmd_act_sets(driver, organisation_pki):
    d = driver
    jp_proposed_case_released(d)
    d.record_date("administration", datetime(2026, 11, 6, 10, 0, tzinfo=TOKYO), by="yuki.mori")
    d.answer("adverse_event", True, by="yuki.mori")
    common = {"serious": True, "report_to": ["pmda"], "submitted_at": None,
              "related_documents": d.numbers(("qa_release",))}
    d.sign_all(d.create("safety_report", {**common, "event_term": "Prolonged cytopenia, grade 4",
                                          "onset_date": "2026-11-20", "awareness_at": "2026-11-21T09:00:00+09:00",
                                          "expectedness": "unexpected", "reporting_category": "fifteen_day"}))
    d.sign_all(d.create("safety_report", {**common, "event_term": "Cytokine release syndrome, grade 3",
                                          "onset_date": "2026-11-08", "awareness_at": "2026-11-08T09:00:00+09:00",
                                          "expectedness": "expected", "reporting_category": "thirty_day"}))
    now = datetime(2026, 11, 30, tzinfo=TOKYO)
    unexpected, expected = report_clocks(d, now, 0), report_clocks(d, now, 1)
    assert {k: (c.state, c.due_local.date() if c.due_at else None) for k, c in unexpected.items()} == {
        "postmarketing_report_15_days": (dl.PENDING, date(2026, 12, 7)),
        "postmarketing_report_30_days": (dl.NOT_APPLICABLE, None)}
    assert {k: (c.state, c.due_local.date() if c.due_at else None) for k, c in expected.items()} == {
        "postmarketing_report_15_days": (dl.NOT_APPLICABLE, None),
        "postmarketing_report_30_days": (dl.PENDING, date(2026, 12, 9))}
    assert report_clocks(d, now + timedelta(days=10), 1)["postmarketing_report_30_days"].state == dl.OVERDUE
    assert all("68-10" in c.deadline.source for c in (*unexpected.values(), *expected.values()))
    assert_all_refusals_audited_and_everything_verifies(d, organisation_pki)


# --- Retention: the case page and the inspection package ----------------------------------------------------------


@pytest.mark.req("11.10(c)")
def test_each_records_retention_end_is_on_the_case_page_and_in_the_inspection_package(driver, app, client):
    d = driver
    us_protocol_case_released(d)
    numbers = d.numbers(("oos_notification", "qa_release", "ethics_approval"))
    sign_in(client, "john.carter")  # the inspector
    page = client.get(f"/cases/{d.case_id}").get_data(as_text=True)
    assert 'id="retention"' in page
    assert "10 years from administration (not recorded yet)" in page  # until the lot is given
    assert "21 CFR 1271.270(d)" in page

    # Given at 21:00 in Houston on 5 November (03:00 UTC on the 6th): kept until 5 November 2036, site time.
    d.record_date("administration", datetime(2026, 11, 5, 21, 0, tzinfo=CHICAGO), by="emily.chen")
    page = client.get(f"/cases/{d.case_id}").get_data(as_text=True)
    for number in numbers:
        row = page.split(f'id="retention-{number}"', 1)[1].split("</tr>", 1)[0]
        assert "until 2036-11-05" in row and "10 years from administration" in row
    status = d.status()
    assert {r.number: r.keep_until for r in status.retention} == {n: date(2036, 11, 5) for n in d.numbers(
        [item.document.type_key for item in status.checklist])}

    timeline = client.get(f"/inspection/cases/{d.case_id}").get_data(as_text=True)
    response = exported_package(client, f"/inspection/cases/{d.case_id}/export", {"csrf_token": csrf_token(timeline)})
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        report = archive.read("report.html").decode("utf-8")
    retention = {document["number"]: document["retention"] for document in manifest["documents"]}
    assert set(numbers) <= set(retention)
    for number in numbers:
        assert retention[number]["keep_until"] == "2036-11-05"
        assert retention[number]["years"] == 10 and retention[number]["from"] == "case.administration"
        assert retention[number]["starts_at"] == "2026-11-06T03:00:00.000000Z" and retention[number]["assumption"] is True
        assert "1271.270(d)" in retention[number]["source"]
    assert report.count("Retention: until 2036-11-05") == len(manifest["documents"])
