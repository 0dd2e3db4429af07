"""Whole OOS cases, one per regime, from the OOS result to QA release and the reports the regime asks for after it.

Each case is written and signed through the service layer (cases, documents, signatures) with real keys,
certificates and RFC 3161 time-stamps, by the people of the right roles in the order the regime and the
document types allow, on SQLite and on PostgreSQL. At every stage the attempts that must fail are made and
must be refused with a reason the person can act on, leaving a `signature.refused` event in the audit
trail (tests/support/case_driver.py): a record signed before the records it depends on are approved (the
case gate), a step signed before the steps it follows, a person without the step's role, another physician
than the case's, the author approving their own record, one person on two steps, a refused, superseded or
withdrawn version. Each case ends with its checklist complete, the lot allowed to be given, every clock met
and the whole audit trail and every signature verifying.

The stories (figures from shared/DOMAIN.md): CAR-T lots failing viability, CAR-positive viable T-cell dose
or CAR expression; never a safety test, which blocks release in every regime (last test).
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from edms.application.integrity import check_integrity as verify
from edms.cases import deadlines as dl
from edms.cases import models as cm
from edms.cases.errors import CaseError
from edms.documents import models as dm
from edms.documents.errors import ReasonRequired, WrongState
from edms.workflow.refusals import AuthorityRefused, SequenceRefused
from tests.support.case_driver import CaseDriver, cast_ready

TOKYO, CHICAGO, BERLIN = ZoneInfo("Asia/Tokyo"), ZoneInfo("America/Chicago"), ZoneInfo("Europe/Berlin")
REFUSAL = "The root cause names the freezer profile but gives no data: attach the freezer log of the run."
REVISION = "Freezer log of run CRF-2026-118 added to the root cause, as QA asked."


@pytest.fixture
def driver(app, organisation_pki) -> CaseDriver:
    services = app.extensions["edms"]
    return CaseDriver(services, cast_ready(services))


def name(driver: CaseDriver, *type_keys: str) -> list[str]:
    """The English names of document types, as the case gate prints them."""
    return [driver.services.document_types[key].name.en for key in type_keys]


def oos_values(test: str, result: str, specification: str, units: str, method: str, tested_on: str) -> dict:
    return {"test": test, "result": result, "specification": specification, "units": units, "method": method,
            "tested_on": tested_on, "safety_test": False}


def deviation_refused_then_revised(driver: CaseDriver) -> int:
    """QC's deviation report: QA refuses version 1 with a reason (a reason is mandatory), the refused
    version can no longer be signed, the author revises it (a reason is mandatory again) and version 2
    is signed through."""
    deviation = driver.create("deviation_report")
    author = driver.signer_for(deviation, driver.doc_type("deviation_report").steps[0])
    driver.sign(deviation, "author", author)
    driver.reject_without_reason(deviation, "qa_review", "akiko.tanaka")
    before = driver.last_event_seq()
    driver.sign(deviation, "qa_review", "akiko.tanaka", kind="reject", reason=REFUSAL)
    assert driver.version_status(deviation, 1) == dm.REJECTED and driver.document(deviation).status == dm.REJECTED
    [rejected] = driver.events("document.rejected", document_id=deviation, after=before)
    assert rejected.reason == REFUSAL
    driver.refused(deviation, "qa_review", "hiroshi.yamamoto", SequenceRefused, "was refused", version=1)
    with pytest.raises(ReasonRequired):
        driver.revise(deviation, "  ", author)
    assert driver.revise(deviation, REVISION, author, {"root_cause": "Controlled-rate freezer profile deviated by "
                         "4 minutes at nucleation (freezer log CRF-2026-118 attached)."}) == 2
    driver.refused(deviation, "qa_review", "hiroshi.yamamoto", SequenceRefused, "superseded", version=1)
    driver.sign_all(deviation)
    return deviation


def release_relying_on_the_case(driver: CaseDriver, release: int) -> None:
    """QA's release drafted early relied on the OOS notification alone: a new version relies on every
    record of the case, and the early version can no longer be signed."""
    relies_on = driver.numbers(("oos_notification", "physician_justification", "informed_consent", "deviation_report"))
    assert driver.revise(release, "Every record the release relies on is approved: listed.", "emi.nakamura",
                         {"relies_on": relies_on}) == 2
    driver.refused(release, "qa_review", "akiko.tanaka", SequenceRefused, "superseded", version=1)


def assert_release_allowed(driver: CaseDriver, now: datetime) -> None:
    """QA's release is approved with the release decision, everything it depends on is approved, and
    neither a finding nor a clock forbids giving the lot now."""
    status = driver.status(now)
    release = next(item for item in status.checklist if item.document.type_key == status.regime.release)
    assert release.satisfied and [b.reason.en for b in release.blockers] == []
    assert [b.reason.en for b in status.administration_blockers] == []
    assert [d.key for d in dl.not_yet_permitted(status.deadlines)] == []


def assert_case_complete(driver: CaseDriver, now: datetime) -> None:
    """Every record the regime needs in this case is approved and passes the regime's tests; the lot may
    still be given."""
    status = driver.status(now)
    incomplete = {item.document.type_key: [b.reason.en for b in item.blockers] + [s.en for s in item.shortfalls]
                  for item in status.checklist if item.applies is not False and not item.satisfied}
    assert incomplete == {}
    assert_release_allowed(driver, now)


def assert_clocks(driver: CaseDriver, now: datetime, expected: dict[str, str], *, all_kept: bool = False) -> None:
    """The case's clocks named in `expected` are in those states; with `all_kept`, every clock of the case
    is met or does not apply (per-record clocks, if the case status ever lists them, included)."""
    states = {d.key: d.state for d in driver.status(now).deadlines}
    assert {key: states.get(key) for key in expected} == expected
    if all_kept:
        assert {key: state for key, state in states.items() if state not in (dl.MET, dl.NOT_APPLICABLE)} == {}


def assert_all_refusals_audited_and_everything_verifies(driver: CaseDriver, organisation_pki) -> None:
    refused = driver.events("signature.refused")
    assert len(refused) == len(driver.refusals) and all(event.reason for event in refused)
    report = verify(driver.services.engine, trust=organisation_pki.trust_anchors())
    assert report.ok, report.first_problem


# --- Japan today: supply inside a clinical trial ----------------------------------------------------------


@pytest.mark.req("11.10(f)", "11.10(g)")
def test_jp_current_case_from_oos_to_release_and_the_trial_safety_report(driver, organisation_pki):
    d = driver
    d.open_case("jp_current", product="Autologous anti-CD19 CAR-T (tisagenlecleucel-like), investigational",
                lot="L2026-0412", patient_ref="PT-7Q4X", site="Osaka University Hospital", zone="Asia/Tokyo",
                physician="yuki.mori", oos_detected_at=datetime(2026, 11, 2, 9, 30, tzinfo=TOKYO))
    oos = d.create("oos_notification", oos_values("viability", "72.0", "≥ 80 % viable cells", "%",
                                                  "Flow cytometry, 7-AAD exclusion (SOP-QC-112)", "2026-11-02"))

    # Records drafted too early wait for what they depend on, and say which records those are.
    release = d.create("qa_release", by="emi.nakamura")
    d.gate_closed(release, *name(d, "regulatory_notification", "ethics_approval", "oos_notification",
                                 "deviation_report", "physician_justification", "informed_consent"))
    justification = d.create("physician_justification")
    d.gate_closed(justification, *name(d, "oos_notification", "ethics_approval"))
    d.refused(oos, "qc_author", "john.carter", AuthorityRefused, "can never sign")  # an inspector only reads

    d.sign_all(oos)
    refusal = d.gate_closed(justification, *name(d, "ethics_approval"))
    assert name(d, "oos_notification")[0] not in str(refusal.error)  # approved: no longer named
    d.sign_all(d.create("regulatory_notification", {"authority": "pmda", "jurisdiction": "JP",
                                                     "what_notified": "Clinical trial notification (治験計画届) of the "
                                                     "CAR-T trial under which the OOS lot is supplied.",
                                                     "notified_at": "2026-04-10T10:00:00+09:00"}))
    d.sign_all(d.create("ethics_approval", {"committee_name": "Osaka University Hospital IRB (治験審査委員会)",
                                            "committee_type": "gcp_irb", "review_type": "protocol_approval",
                                            "patient_ref": None, "decision": "approved",
                                            "submitted_at": "2026-04-20T10:00:00+09:00",
                                            "decision_date": "2026-05-12", "valid_until": "2027-05-11"}))
    d.sign_all(d.create("institution_head_approval", {  # J-GCP: the head of the institution approves the trial
        "institution": "Osaka University Hospital", "head_name": "Director of Osaka University Hospital",
        "protocol_number": "CART-JP-301", "decision": "approved", "decided_on": "2026-05-14",
        "irb_opinion": d.numbers(("ethics_approval",))}))

    # The physician corrects the justification before signing: the first version is superseded.
    assert d.revise(justification, "Diagnosis completed with the line of therapy.", "yuki.mori",
                    {"diagnosis": "Relapsed DLBCL after two lines, including autologous transplant"}) == 2
    d.refused(justification, "physician_author", "yuki.mori", SequenceRefused, "superseded", version=1)
    d.sign_all(justification)
    d.sign_all(d.create("informed_consent", {"consent_date": "2026-11-06"}))
    d.gate_closed(release, *name(d, "deviation_report"))
    deviation_refused_then_revised(d)

    release_relying_on_the_case(d, release)
    d.sign_all(release)
    assert_release_allowed(d, now=datetime(2026, 11, 11, 9, tzinfo=TOKYO))

    # After release: administration, an adverse event, and the 15-day trial safety report.
    d.record_date("administration", datetime(2026, 11, 12, 10, 0, tzinfo=TOKYO), by="yuki.mori")
    with pytest.raises(CaseError, match="physician role"):
        d.answer("adverse_event", True, by="akiko.tanaka")
    d.answer("adverse_event", True, by="yuki.mori")
    assert d.checklist()["safety_report"].applies is True
    report = d.create("safety_report", {"awareness_at": "2026-11-14T08:10:00+09:00", "onset_date": "2026-11-13",
                                        "reporting_category": "fifteen_day", "expectedness": "unexpected",
                                        "submitted_at": "2026-11-20T16:00:00+09:00", "report_to": ["pmda"],
                                        "related_documents": d.numbers(("qa_release",))})
    [clocks] = d.record_deadlines("safety_report", now=datetime(2026, 11, 15, tzinfo=TOKYO))
    assert {c.key: c.state for c in clocks}["trial_safety_report_15_days"] == dl.PENDING  # a draft starts it
    d.sign_all(report)
    [clocks] = d.record_deadlines("safety_report", now=datetime(2026, 11, 21, tzinfo=TOKYO))
    assert {c.key: c.state for c in clocks} == {"trial_safety_report_7_days": dl.NOT_APPLICABLE,
                                                "trial_safety_report_15_days": dl.MET,
                                                "trial_safety_report_15_days_expected": dl.NOT_APPLICABLE}
    shown = {c.key: c.state for c in d.status(datetime(2026, 11, 21, tzinfo=TOKYO)).deadlines}
    assert shown["trial_safety_report_15_days"] == dl.MET  # the case page and dashboard list it too

    assert_case_complete(d, now=datetime(2026, 11, 21, tzinfo=TOKYO))
    assert_clocks(d, datetime(2026, 11, 21, tzinfo=TOKYO), {}, all_kept=True)  # its clocks are per adverse event
    close_the_case(d)
    assert_all_refusals_audited_and_everything_verifies(d, organisation_pki)


def close_the_case(d: CaseDriver) -> None:
    """QA records the release and, once the reports are in, closes the case; a physician cannot."""
    with pytest.raises(CaseError, match="Only QA or regulatory"):
        d.set_status(cm.CLOSED, by=d.physician, reason="Treatment given")
    d.set_status(cm.RELEASED, by="hiroshi.yamamoto", reason=f"Released under {d.numbers(('qa_release',))[0]}")
    d.set_status(cm.CLOSED, by="hiroshi.yamamoto", reason="Lot given; every report the regime asks for is approved")
    assert d.case().status == cm.CLOSED
    changes = [json.loads(e.changes)["status"]["new"] for e in d.events("case.status_changed")]
    assert changes == [cm.RELEASED, cm.CLOSED]



# --- EU: exceptional supply of an OOS batch of an authorised ATMP ---------------------------------------------


@pytest.mark.req("11.10(f)", "11.10(g)")
def test_eu_case_from_oos_to_release_and_both_48_hour_notifications(driver, organisation_pki):
    d = driver
    d.open_case("eu", product="Autologous anti-CD19 CAR-T (axicabtagene-like)", lot="E2026-0107",
                patient_ref="PT-EU3310", site="Charité – Universitätsmedizin Berlin", zone="Europe/Berlin",
                physician="lukas.weber", oos_detected_at=datetime(2026, 10, 15, 11, 0, tzinfo=BERLIN))
    oos = d.create("oos_notification", oos_values("viability", "68.0", "≥ 80 % viable cells", "%",
                                                  "Flow cytometry, 7-AAD exclusion (SOP-QC-112)", "2026-10-15"))
    request = d.create("supply_request", {"treating_site": "Charité – Universitätsmedizin Berlin",
                                          "requested_at": "2026-10-19T09:00:00+02:00",
                                          "planned_administration": "2026-10-24"})
    d.gate_closed(request, *name(d, "oos_notification"))  # the physician asks once told the risks
    d.sign_all(oos)
    release = d.create("qa_release", by="emi.nakamura")
    refusal = d.gate_closed(release, *name(d, "deviation_report", "physician_justification", "supply_request",
                                           "informed_consent", "physician_acceptance"))
    # An open question never opens a gate: QA must say whether the manufacturer is also the MAH.
    assert "Not answered yet: Are the manufacturer and the marketing authorisation holder" in str(refusal.error)
    assert d.checklist()["mah_agreement"].applies is None and "qa" in d.checklist()["qa_release"].next_roles
    with pytest.raises(CaseError, match="qa role"):
        d.answer("manufacturer_is_not_mah", True, by="lukas.weber")
    d.answer("manufacturer_is_not_mah", True, by="akiko.tanaka")
    refusal = d.gate_closed(release, *name(d, "mah_agreement"))
    assert "Not answered yet" not in str(refusal.error)

    d.sign_all(request)
    d.sign_all(d.create("physician_justification", {"urgency": "urgent"}))
    d.sign_all(d.create("informed_consent", {"consent_date": "2026-10-20"}))
    acceptance = d.create("physician_acceptance", {"physician_name": "Dr. med. Lukas Weber",
                                                   "received_at": "2026-10-20T17:30:00+02:00"})
    d.sign_all(acceptance)

    # Withdrawing an approved record closes every gate that depends on it again, with its reason.
    with pytest.raises(ReasonRequired):
        d.withdraw(request, " ", by="lukas.weber")
    d.withdraw(request, "The request named the wrong treating unit; replaced by a new request.", by="lukas.weber")
    assert d.document(request).status == dm.WITHDRAWN
    with pytest.raises(WrongState):
        d.revise(request, "Reopen", "lukas.weber")
    assert not d.checklist()["supply_request"].satisfied
    d.gate_closed(release, *name(d, "supply_request", "mah_agreement"))
    d.sign_all(d.create("supply_request", {"treating_site": "Charité – Universitätsmedizin Berlin, CAR-T unit",
                                           "requested_at": "2026-10-20T08:00:00+02:00",
                                           "planned_administration": "2026-10-24"}))

    # QA withdraws the agreement recorded from an outdated file before anyone signs it.
    outdated = d.create("mah_agreement", {"agreement_reference": "QAA-2024-004 v2", "covers_oos_supply": False})
    d.withdraw(outdated, "Outdated agreement version recorded by mistake; v3 covers OOS supply.", by="akiko.tanaka")
    d.refused(outdated, "regulatory_author", "naoko.ito", SequenceRefused, "withdrawn")
    d.sign_all(d.create("mah_agreement", {"agreement_reference": "QAA-2026-004 v3"}))
    deviation_refused_then_revised(d)

    release_relying_on_the_case(d, release)
    d.sign_all(release)
    assert_release_allowed(d, now=datetime(2026, 10, 23, 9, tzinfo=BERLIN))
    assert_clocks(d, datetime(2026, 10, 23, 9, tzinfo=BERLIN), {"ema_notified": dl.WAITING_FOR_ANCHOR,
                                                                "competent_authority_notified": dl.WAITING_FOR_ANCHOR})

    # Given on the Saturday before summer time ends: 48 hours are 48 real hours across the night of 25 October.
    d.record_date("administration", datetime(2026, 10, 24, 14, 0, tzinfo=BERLIN), by="lukas.weber")
    early = d.create("regulatory_notification", {"authority": "ema", "jurisdiction": "EU",
                                                 "what_notified": "Supply of OOS batch E2026-0107 (viability 68 %) "
                                                 "to patient PT-EU3310 at the physician's request.",
                                                 "notified_at": "2026-10-25T10:00:00+01:00"})
    due = datetime(2026, 10, 26, 12, 0, tzinfo=UTC)
    status = {s.key: s for s in d.status(datetime(2026, 10, 26, 3, 0, tzinfo=UTC)).deadlines}
    assert status["ema_notified"].due_at == due and status["ema_notified"].state == dl.DUE_SOON  # a draft is not enough
    d.sign_all(early)
    d.sign_all(d.create("regulatory_notification", {
        "authority": "national_competent_authority", "jurisdiction": "EU", "reference_number": "PEI-2026-0412",
        "what_notified": "Supply of OOS batch E2026-0107 to patient PT-EU3310 (Paul-Ehrlich-Institut).",
        "notified_at": "2026-10-26T09:00:00+01:00"}))
    # The MAH is not the manufacturer: it is told too (Part IV 11.54); no adverse reaction followed.
    d.sign_all(d.create("regulatory_notification", {
        "authority": "marketing_authorisation_holder", "jurisdiction": "EU", "reference_number": "MAH-OOS-2026-031",
        "what_notified": "Supply and administration of OOS batch E2026-0107 to patient PT-EU3310.",
        "notified_at": "2026-10-25T09:30:00+01:00"}))
    d.answer("adverse_event", False, by="lukas.weber")

    assert_case_complete(d, now=datetime(2026, 10, 27, tzinfo=BERLIN))
    assert_clocks(d, datetime(2026, 10, 27, tzinfo=BERLIN), {"ema_notified": dl.MET,
                                                             "competent_authority_notified": dl.MET,
                                                             "mah_informed": dl.MET}, all_kept=True)
    close_the_case(d)
    assert_all_refusals_audited_and_everything_verifies(d, organisation_pki)


# --- US: single-patient expanded access IND ------------------------------------------------------------------


@pytest.mark.req("11.10(f)", "11.10(g)")
def test_us_case_from_oos_to_release_30_days_after_fda_receipt_and_the_7_day_ind_safety_report(driver, organisation_pki):
    d = driver
    d.open_case("us", product="Autologous anti-BCMA CAR-T (ciltacabtagene-like)", lot="U2026-0311",
                patient_ref="PT-US0917", site="MD Anderson Cancer Center, Houston", zone="America/Chicago",
                physician="emily.chen", oos_detected_at=datetime(2026, 9, 22, 16, 0, tzinfo=CHICAGO))
    oos = d.create("oos_notification", oos_values("car_expression", "14.5", "≥ 20 % CAR+ of viable T cells", "%",
                                                  "Flow cytometry, CAR expression (SOP-QC-121)", "2026-09-22"))
    letter = d.create("letter_of_authorization", {"physician_name": "Emily Chen, MD", "issued_on": "2026-09-24"})
    d.gate_closed(letter, *name(d, "oos_notification"))
    d.sign_all(oos)
    justification = d.create("physician_justification", {"urgency": "urgent"})
    acknowledgement = d.create("fda_acknowledgement", {
        "physician_name": "Emily Chen, MD", "submitted_at": "2026-09-30T15:00:00-05:00",
        "fda_received_at": "2026-10-01T09:40:00-05:00", "earlier_treatment_allowed": False,
        "earlier_treatment_allowed_at": None})
    d.gate_closed(acknowledgement, *name(d, "letter_of_authorization", "physician_justification"))
    d.sign_all(letter)
    d.sign_all(justification)
    d.sign_all(acknowledgement)
    d.sign_all(d.create("ethics_approval", {"committee_name": "MD Anderson IRB", "committee_type": "irb_21cfr56",
                                            "committee_reference": "IRB-2026-0917", "review_type": "full_review",
                                            "decision": "approved", "submitted_at": "2026-09-28T10:00:00-05:00",
                                            "decision_date": "2026-10-02"}))
    d.sign_all(d.create("informed_consent", {"consent_date": "2026-10-05"}))
    deviation_refused_then_revised(d)
    d.sign_all(d.create("qa_release", by="emi.nakamura"))

    # Released, but treatment may not start until 30 days after FDA's receipt (00:00 local on 31 October).
    before = datetime(2026, 10, 20, 12, tzinfo=CHICAGO)
    status = d.status(before)
    [wait] = dl.not_yet_permitted(status.deadlines)
    assert wait.key == "treatment_not_before_30_days" and wait.due_at == datetime(2026, 10, 31, tzinfo=CHICAGO)
    # The case page and API say so: administration is blocked until then, in the site's time.
    assert [b.reason.en for b in status.administration_blockers] == [
        "Treatment not before 30 days after FDA receipt: not before 2026-10-31 00:00:00 CDT (UTC-05:00)."]
    assert_clocks(d, before, {"treatment_not_before_30_days": dl.PENDING,
                              "treatment_not_before_fda_permission": dl.NOT_APPLICABLE})
    assert_release_allowed(d, now=datetime(2026, 11, 1, 8, tzinfo=CHICAGO))
    d.record_date("administration", datetime(2026, 11, 2, 10, 0, tzinfo=CHICAGO), by="emily.chen")

    # An unexpected life-threatening reaction: the 7-day IND safety report (also within the 15-day clock).
    d.answer("adverse_event", True, by="emily.chen")
    report = d.create("safety_report", {
        "event_term": "Immune effector cell-associated neurotoxicity syndrome, grade 4", "onset_date": "2026-11-03",
        "awareness_at": "2026-11-04T07:30:00-06:00", "serious": True, "seriousness_criteria": ["life_threatening"],
        "fatal_or_life_threatening": True, "expectedness": "unexpected", "reporting_category": "seven_day",
        "report_to": ["fda", "ethics_committee"], "submitted_at": "2026-11-09T15:00:00-06:00",
        "authority_reference": "IND 031744 SN 0004", "related_documents": d.numbers(("qa_release",))})
    d.sign_all(report)
    [clocks] = d.record_deadlines("safety_report", now=datetime(2026, 11, 12, tzinfo=CHICAGO))
    assert {c.key: c.state for c in clocks} == {"ind_safety_report_7_days": dl.MET, "ind_safety_report_15_days": dl.MET}
    # Unexpected, related and serious: an unanticipated problem the IRB hears of (312.66), and at the end of
    # treatment the written summary to FDA (312.310(c)(2)).
    d.answer("unanticipated_problem", True, by="emily.chen")
    d.sign_all(d.create("irb_problem_report", {
        "committee_name": "MD Anderson IRB", "problem": "Grade 4 ICANS after an OOS lot (CAR expression 14.5 %).",
        "aware_at": "2026-11-04T07:30:00-06:00", "reported_at": "2026-11-06T10:00:00-06:00",
        "related_documents": d.numbers(("safety_report",))}))
    d.sign_all(d.create("treatment_summary", {
        "treatment_concluded_at": "2026-11-10T12:00:00-06:00", "submitted_at": "2026-11-11T15:00:00-06:00",
        "results": "Complete metabolic response on day 28 PET-CT is pending; ICANS resolved by day 8.",
        "adverse_effects": "Grade 4 ICANS (AE report, IND 031744 SN 0004).",
        "related_documents": d.numbers(("qa_release", "safety_report"))}))

    assert_case_complete(d, now=datetime(2026, 11, 12, tzinfo=CHICAGO))
    assert_clocks(d, datetime(2026, 11, 12, tzinfo=CHICAGO), {"treatment_not_before_30_days": dl.MET,
                                                              "treatment_not_before_fda_permission": dl.NOT_APPLICABLE},
                  all_kept=True)
    close_the_case(d)
    assert_all_refusals_audited_and_everything_verifies(d, organisation_pki)


# --- US emergency: FDA authorises by telephone ---------------------------------------------------------------


@pytest.mark.req("11.10(f)", "11.10(g)")
def test_us_emergency_case_released_on_telephone_authorisation_then_irb_report_and_written_ind(driver, organisation_pki):
    d = driver
    d.open_case("us_emergency", product="Autologous anti-CD19 CAR-T (lisocabtagene-like)", lot="U2026-0344",
                patient_ref="PT-US1204", site="MD Anderson Cancer Center, Houston", zone="America/Chicago",
                physician="emily.chen", oos_detected_at=datetime(2026, 11, 6, 8, 0, tzinfo=CHICAGO))
    d.sign_all(d.create("oos_notification", oos_values(
        "viable_car_t_dose", "0.42", "0.6–6.0 × 10^8 CAR+ viable T cells", "× 10^8 cells",
        "Flow cytometry, CAR+ viable T-cell count (SOP-QC-118)", "2026-11-06")))
    # An urgent, not emergency, justification does not open the emergency route.
    justification = d.create("physician_justification", {"urgency": "urgent"})
    d.sign_all(justification)
    letter = d.create("letter_of_authorization", {"physician_name": "Emily Chen, MD", "issued_on": "2026-11-09"})
    d.sign_all(letter)
    acknowledgement = d.create("fda_acknowledgement", {
        "physician_name": "Emily Chen, MD", "ind_number": "031902", "submitted_at": None, "fda_received_at": None,
        "earlier_treatment_allowed": False, "earlier_treatment_allowed_at": None,
        "emergency_telephone_authorization": True, "telephone_authorized_at": "2026-11-09T22:15:00-06:00",
        "fda_official": "CBER emergency IND duty officer",
        "telephone_details": "Dr Chen called FDA at 22:05; emergency use authorised at 22:15 with IND 031902."})
    d.gate_closed(acknowledgement, "Urgency is Urgent (days) (needed: Emergency (life-threatening))")
    assert d.revise(justification, "Patient deteriorated overnight: emergency use.", "emily.chen",
                    {"urgency": "emergency"}) == 2
    d.sign_all(justification)
    d.sign_all(acknowledgement)
    d.sign_all(d.create("informed_consent", {"consent_date": "2026-11-09"}))
    deviation_refused_then_revised(d)
    irb_report = d.create("ethics_approval", {
        "committee_name": "MD Anderson IRB", "committee_type": "irb_21cfr56", "committee_reference": "IRB-EM-2026-044",
        "review_type": "emergency_use_report", "decision": "acknowledged", "submitted_at": "2026-11-13T11:00:00-06:00",
        "decision_date": "2026-11-16"})
    d.gate_closed(irb_report, *name(d, "qa_release"))  # the IRB hears of an emergency use after it
    release = d.create("qa_release", by="emi.nakamura")
    d.sign_all(release)
    assert_release_allowed(d, now=datetime(2026, 11, 10, 5, tzinfo=CHICAGO))

    d.record_date("administration", datetime(2026, 11, 10, 6, 0, tzinfo=CHICAGO), by="emily.chen")
    d.answer("adverse_event", False, by="emily.chen")
    d.answer("unanticipated_problem", False, by="emily.chen")
    d.sign_all(d.create("treatment_summary", {
        "treatment_concluded_at": "2026-11-17T12:00:00-06:00", "submitted_at": "2026-11-20T11:00:00-06:00",
        "results": "Infusion tolerated; discharged on day 7.", "adverse_effects": "None beyond grade 1 CRS.",
        "related_documents": d.numbers(("qa_release",))}))
    d.sign_all(irb_report)
    d.sign_all(d.create("regulatory_notification", {
        "authority": "fda", "jurisdiction": "US", "reference_number": "IND 031902 SN 0000",
        "what_notified": "Written expanded access IND (Form FDA 3926) following the telephone authorisation.",
        "notified_at": "2026-11-20T10:00:00-06:00"}))
    now = datetime(2026, 11, 23, tzinfo=CHICAGO)
    assert_case_complete(d, now)
    assert d.checklist(now)["safety_report"].applies is False
    assert_clocks(d, now, {"irb_notified_5_working_days": dl.MET, "written_ind_15_working_days": dl.MET,
                           "treatment_summary_30_days": dl.MET}, all_kept=True)
    close_the_case(d)
    assert_all_refusals_audited_and_everything_verifies(d, organisation_pki)


# --- Japan, proposed framework: commercial supply under an OOS exception -----------------------------------


@pytest.mark.req("11.10(f)", "11.10(g)")
def test_jp_proposed_case_needs_the_failed_test_on_the_notified_list_of_waivable_items(driver, organisation_pki):
    d = driver
    d.open_case("jp_proposed", product="Autologous anti-CD19 CAR-T (tisagenlecleucel-like)", lot="J2026-0088",
                patient_ref="PT-JP4821", site="Kyoto University Hospital", zone="Asia/Tokyo", physician="yuki.mori",
                oos_detected_at=datetime(2026, 11, 4, 14, 0, tzinfo=TOKYO))
    oos = d.create("oos_notification", oos_values(
        "viable_car_t_dose", "0.42", "0.6–6.0 × 10^8 CAR+ viable T cells", "× 10^8 cells",
        "Flow cytometry, CAR+ viable T-cell count (SOP-QC-118)", "2026-11-04"))
    d.gate_closed(oos, *name(d, "waivable_items_list"))  # the MAH's list of waivable items comes first
    waivable = d.create("waivable_items_list", {"waivable_tests": ["viability", "car_expression"]})
    d.sign_all(waivable)
    d.sign_all(oos)

    # The failed test is not on the notified list: QA cannot release until the list covers it.
    release = d.create("qa_release", by="emi.nakamura")
    d.gate_closed(release, "does not include CAR-positive viable T-cell dose")
    assert d.checklist()["waivable_items_list"].shortfalls
    assert d.revise(waivable, "Dose added to the waivable items (notified to PMDA on 2026-11-05).", "akiko.tanaka",
                    {"waivable_tests": ["viable_car_t_dose", "viability", "car_expression"],
                     "notified_on": "2026-11-05", "notification_reference": "PMDA-W-2026-021"}) == 2
    d.sign_all(waivable)
    assert d.version_status(waivable, 1) == dm.SUPERSEDED and d.checklist()["waivable_items_list"].satisfied

    request = d.create("supply_request", {"treating_site": "Kyoto University Hospital",
                                          "requested_at": "2026-11-07T10:00:00+09:00"})
    d.gate_closed(request, *name(d, "physician_justification", "informed_consent"))
    justification = d.create("physician_justification")
    d.sign_all(justification)
    committee = d.create("ethics_approval", {"committee_name": "Kyoto University Hospital Ethics Committee",
                                             "committee_reference": "R-2026-1188", "patient_ref": "PT-JP4821",
                                             "submitted_at": "2026-11-06T10:00:00+09:00", "decision_date": "2026-11-07"})
    d.sign_all(d.create("informed_consent", {"consent_date": "2026-11-06"}))
    d.sign_all(request)
    d.sign_all(committee)
    deviation_refused_then_revised(d)
    release_relying_on_the_case(d, release)
    d.sign_all(release)
    assert_release_allowed(d, now=datetime(2026, 11, 9, 9, tzinfo=TOKYO))

    d.record_date("administration", datetime(2026, 11, 10, 10, 0, tzinfo=TOKYO), by="yuki.mori")
    d.answer("adverse_event", False, by="yuki.mori")
    now = datetime(2026, 11, 24, tzinfo=TOKYO)
    assert_case_complete(d, now)
    assert d.checklist(now)["safety_report"].applies is False
    assert_clocks(d, now, {}, all_kept=True)  # the proposal sets no clocks
    close_the_case(d)
    assert_all_refusals_audited_and_everything_verifies(d, organisation_pki)


# --- Safety specifications are never waived -------------------------------------------------------------------

SAFETY_CASES = [
    ("jp_current", "sterility", "Sterility"),
    ("jp_proposed", "endotoxin", "Endotoxin"),
    ("us", "mycoplasma", "Mycoplasma"),
    ("us_emergency", "sterility", "Sterility"),
    ("us_protocol", "endotoxin", "Endotoxin"),
    ("eu", "endotoxin", "Endotoxin"),
]


@pytest.mark.req("11.10(f)")
@pytest.mark.parametrize(("regime", "test", "label"), SAFETY_CASES, ids=[case[0] for case in SAFETY_CASES])
def test_an_oos_result_on_a_safety_test_blocks_release_in_every_regime(driver, regime, test, label):
    d = driver
    d.open_case(regime, product="Autologous anti-CD19 CAR-T", lot="S2026-0500", patient_ref="PT-SAFE01",
                site="Osaka University Hospital", zone="Asia/Tokyo", physician="yuki.mori",
                oos_detected_at=datetime(2026, 11, 20, 9, 0, tzinfo=TOKYO))
    oos = d.create("oos_notification", {**oos_values(test, "1", "Not detected", "positive cultures",
                                                     "Ph. Eur. 2.6.27 / USP <71>", "2026-11-20"), "safety_test": True})
    release = d.create("qa_release", by="emi.nakamura")
    sentence = f"reports an OOS result on a safety test ({label}): safety specifications are never waived"
    # Release and administration are blocked with the reason, and nobody is offered as next to act.
    status = d.status()
    [safety] = [b for b in status.administration_blockers if "safety test" in b.reason.en]
    assert sentence in safety.reason.en and safety.roles == () and safety.type_key == "oos_notification"
    assert "安全性に関する規格は免除されない" in safety.reason.ja
    release_item = next(item for item in status.checklist if item.document.type_key == "qa_release")
    assert any(sentence in b.reason.en for b in release_item.blockers)
    d.refused(release, "qa_review", "akiko.tanaka", SequenceRefused, sentence)
    # Only the release is blocked: the OOS notification itself is signed like any record.
    assert "safety test" not in " ".join(b.reason.en for b in next(
        item for item in status.checklist if item.document.type_key == "oos_notification").blockers)
    assert d.document(oos).status == dm.IN_REVIEW
