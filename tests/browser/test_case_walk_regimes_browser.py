"""The demo's EU and US OOS cases carried to QA release in a real browser by the people who do it, each from
their own Tasks inbox, signing on the signing page with their credentials again (21 CFR 11.10(f), (g), 11.50,
11.200(a)(1); EU Annex 11 §14), as the JP walk (test_case_walk_browser.py) does for lot L2026-0412.

EU (lot E2026-0107, Charité Berlin; EudraLex Vol. 4 Part IV §11.5 and the EMA Q&A on OOS ATMPs): QA answers
whether the manufacturer and the MAH differ, the treating physician writes his supply request, justification
and consent record, QA records his acceptance and he confirms it (another physician is refused), two QA people
release, and after the administration Regulatory Affairs tells EMA and the competent authority within 48 hours.

US (lot U2026-0311, MD Anderson Houston; 21 CFR 312.310): Regulatory Affairs writes the Letter of Authorization
and records FDA's acknowledgement of the physician's IND (no earlier start allowed, so the 30-day wait runs from
FDA's receipt), the physician writes her justification, the IRB chair's concurrence and the consent record and
confirms the acknowledgement (another physician is refused), QA's release is refused while records are missing,
then two QA people release it and the physician records the administration.

Each walk ends on the case page as the site's physician sees it: every record needed approved, the release
approved, every signature with its printed name, its date and time in the site's zone and its meaning."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from edms.cases.models import Case
from edms.demo import DEMO_PEOPLE
from tests.browser.test_case_walk_browser import PRINTED, Walk, demo  # noqa: F401  (demo: fixture)

pytestmark = pytest.mark.browser

BERLIN = ZoneInfo("Europe/Berlin")
CHICAGO = ZoneInfo("America/Chicago")
ZONES = {person.username: ZoneInfo(person.timezone) for person in DEMO_PEOPLE}


@pytest.fixture
def case_ids(app, demo) -> dict[str, int]:
    """The demo cases (built by the `demo` fixture, as `edms demo` builds them) by lot."""
    with app.extensions["edms"].sessions() as session:
        return {lot: case_id for lot, case_id in session.execute(select(Case.lot, Case.id))}


# --- how people enter and read times ---------------------------------------------------------------------------

def entered(moment: datetime, username: str) -> str:
    """A moment as `username` types it into a record's date-time field: in their own zone, to the minute."""
    return moment.astimezone(ZONES[username]).strftime("%Y-%m-%dT%H:%M")


def date_of(moment: datetime, username: str) -> str:
    return moment.astimezone(ZONES[username]).date().isoformat()


def minute(zone: ZoneInfo) -> datetime:
    return datetime.now(zone).replace(second=0, microsecond=0)


def shown(moment: datetime, zone: ZoneInfo) -> str:
    """How a page prints a moment in a zone: `2026-11-26 09:30:00 CET (UTC+01:00)`."""
    local = moment.astimezone(zone)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} (UTC{offset[:3]}:{offset[3:]})"


def signed_at(zone: ZoneInfo) -> re.Pattern:
    """A signature time printed in `zone`, with the abbreviation and offset the zone has now."""
    label = re.escape(shown(datetime.now(zone), zone)[20:])
    return re.compile(rf"^\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d {label}$")


# --- pages ---------------------------------------------------------------------------------------------------

def record_date(walk: Walk, key: str, moment: datetime, zone: ZoneInfo):
    """A case date on the case page, entered in the treating site's zone."""
    case = walk.open_case()
    case.select_option("#date-key", key)
    case.fill("#date-value", moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M"))
    case.click("#record-date")
    expect(case.locator(".flash-success")).to_be_visible()
    expect(case.locator(f"#date-{key}")).to_have_text(shown(moment, zone))
    return case


def answer(case, question: str, value: str) -> None:
    asked = case.locator(".question", has_text=question)
    asked.locator("select[name=answer]").select_option(value)
    asked.locator("button").click()
    expect(case.locator(".flash-success")).to_be_visible()
    expect(case.locator(".question", has_text=question)).to_contain_text("— " + value.capitalize())


def deadline(case, label: str):
    return case.locator("#deadlines tbody tr", has_text=label)


def open_record(walk: Walk, type_key: str, number: str | None = None):
    case = walk.open_case()
    links = case.locator(f"#checklist-{type_key} td:nth-child(3) a:not(.button)")
    (links.filter(has_text=number) if number else links.first).click()
    expect(walk.page.locator("#document-number")).to_be_visible()
    return walk.page


def wrong_physician_is_refused(walk: Walk, username: str, type_key: str, step: str, physician: str) -> None:
    """Another physician than the case's, of another site: nothing of this case in their inbox or case list,
    and the case, the record and its signing page do not exist for them (404), so nothing offers to sign.
    (Before sites were records they could open the record and were told only `physician` may sign `step`.)"""
    page = walk.page
    walk.sign_in(physician)
    record = re.sub(r"(/documents/\d+).*$", r"\1", open_record(walk, type_key).url)
    walk.sign_out()
    walk.sign_in(username)
    page.click("#nav-tasks")
    page.wait_for_url(re.compile(r"/tasks/$"))
    expect(page.locator("#tasks-table tr.task").filter(
        has=page.locator(f"a[href='/cases/{walk.case_id}']"))).to_have_count(0)
    page.click("#nav-cases")
    expect(page.locator(f"#cases-table a[href='/cases/{walk.case_id}']")).to_have_count(0)
    for path in (f"/cases/{walk.case_id}", record, f"{record}/versions/1/sign"):
        response = page.goto(path)
        assert response is not None and response.status == 404, (path, step)
        expect(page.locator("#sign-version, #confirm-signature")).to_have_count(0)
    walk.sign_out()


def assert_case_file_complete(walk: Walk, not_needed: tuple[str, ...]) -> None:
    """Every record the regime needs is approved (those it does not need say so); the lot is released."""
    case = walk.open_case()
    expect(case.locator("#administration-ready")).to_be_visible()
    rows = case.locator("#checklist tbody tr")
    for i in range(rows.count()):
        row = rows.nth(i)
        if row.get_attribute("id").removeprefix("checklist-") in not_needed:
            expect(row.locator("td").nth(1)).to_have_text("Not needed")
            continue
        expect(row).to_have_class(re.compile(r"\bdone\b"))
        expect(row.locator("td").nth(3)).to_have_text("Approved")


def assert_release_signed(walk: Walk, zone: ZoneInfo, reviewer: str, approver: str) -> None:
    page = open_record(walk, "qa_release")
    expect(page.locator("#version-status")).to_have_text("Approved")
    signatures = page.locator("#manifestations li")
    expect(signatures).to_have_count(2)
    expect(signatures.locator(".signer")).to_have_text([f"{PRINTED[reviewer]} ({reviewer})",
                                                        f"{PRINTED[approver]} ({approver})"])
    expect(signatures.locator(".meaning")).to_have_text(["Reviewed", "Approved"])
    expect(signatures.locator(".signed-at")).to_have_text([signed_at(zone)] * 2)
    expect(signatures.locator(".verification")).to_contain_text(["valid", "valid"])


# --- EU: E2026-0107, Charité Berlin ----------------------------------------------------------------------------

EU_LOT = "E2026-0107"


def eu_records(now: datetime, numbers: dict[str, str]) -> dict[str, dict[str, object]]:
    """What each person writes in the EU case, by type; date-times as the writer types them."""
    return {
        "deviation_report": {
            "description": "Post-thaw viability of lot E2026-0107 was 68.0 % against a release limit of ≥ 80 % "
                           "(7-AAD exclusion, SOP-QC-112).",
            "detection": "Release testing by flow cytometry two days ago; confirmed on the retained sample by a second "
                         "analyst.",
            "impact": "Lower viable dose; sterility, endotoxin, mycoplasma and identity met their limits. No safety "
                      "specification is affected.",
            "root_cause": "Apheresis material with a low baseline lymphocyte count and 31 h in transit (limit 36 h).",
            "corrective_actions": "Lot quarantined pending the treating physician's request, his acceptance and QA "
                                  "release for this patient only.",
            "preventive_actions": "Apheresis shipping lane re-qualified; courier hand-over times added to the shipping "
                                  "record.",
            "capa_reference": "CAPA-2026-0044",
        },
        "supply_request": {
            "oos_notification": numbers["oos_notification"],
            "treating_site": "Charité – Universitätsmedizin Berlin, Department of Haematology and Oncology",
            "reason": "Relapsed DLBCL progressing despite bridging therapy: without CAR-T cells within days the patient "
                      "faces an immediate significant hazard. No authorised alternative remains; re-manufacture needs "
                      "a new apheresis he cannot tolerate and 5-6 weeks.",
            "planned_administration": date_of(now + timedelta(days=1), "lukas.weber"),
            "risk_information_received": "yes",
            "requested_at": entered(now - timedelta(hours=2), "lukas.weber"),
        },
        "physician_justification": {
            "oos_notification": numbers["oos_notification"],
            "diagnosis": "Relapsed diffuse large B-cell lymphoma, refractory to R-CHOP and salvage R-DHAP",
            "no_alternative": "Chemorefractory, so not eligible for autologous transplant; no trial open to him at "
                              "short notice.",
            "remanufacture_considered": "A new apheresis and lot would take 5-6 weeks; he is progressing despite "
                                        "bridging radiotherapy.",
            "urgency": "urgent",
            "expected_benefit": "Published experience with OOS-viability lots (61-79 %) shows responses comparable "
                                "to lots within specification.",
            "assessed_risk": "Lower viable dose; the manufacturer's risk evaluation finds no safety specification "
                             "failed.",
            "decision": "proceed",
        },
        "informed_consent": {
            "information_given": "The OOS viability result (68.0 % against ≥ 80 %), the manufacturer's evaluation of "
                                 "the risks and the alternatives, in German, with the written information sheet.",
            "questions_answered": "Whether the lower viability lowers the chance of response: possibly a little; no "
                                  "evidence of more side effects.",
            "consent": "given", "consent_date": date_of(now, "lukas.weber"), "witness_name": "", "witness_role": "",
        },
        "physician_acceptance": {
            "supply_request": numbers.get("supply_request", ""),
            "risk_evaluation": numbers["oos_notification"],
            "supplied_at_request_notified": "yes",
            "physician_name": PRINTED["lukas.weber"],
            "acceptance": "accepted",
            "received_at": entered(minute(BERLIN), "akiko.tanaka"),
            "received_as": "email",
        },
        "qa_release": {
            "oos_result": "Viability 68.0 % (specification ≥ 80 %)",
            "relies_on": " ".join(numbers.get(key, "") for key in ("oos_notification", "deviation_report",
                                                                  "physician_justification", "informed_consent")),
            "release_decision": "release",
            "conditions": "For patient PT-EU3310 at Charité Berlin only, at the physician's request (SUP, ACC records); "
                          "EMA and the competent authority to be informed within 48 hours of administration.",
        },
        "regulatory_notification": notification(numbers, "ema", "EMA/OOS-ATMP/2026/0107"),
    }


def notification(numbers: dict[str, str], authority: str, reference: str) -> dict[str, object]:
    """Regulatory Affairs' notification of the administration, made now (after it), typed in her zone (Tokyo)."""
    whom = {"ema": "EMA", "national_competent_authority": "The competent authority that granted the manufacturing "
                                                            "authorisation"}[authority]
    return {
        "authority": authority, "jurisdiction": "EU",
        "what_notified": f"{whom} informed of the administration of out-of-specification batch {EU_LOT} (viability "
                         "68.0 %, specification ≥ 80 %) to patient PT-EU3310 at Charité Berlin, supplied at the "
                         "treating physician's request (EudraLex Vol. 4 Part IV §11.5).",
        "notified_at": entered(minute(BERLIN), "naoko.ito"), "reference_number": reference,
        "related_documents": " ".join(numbers.get(key, "") for key in ("qa_release", "supply_request",
                                                                      "physician_acceptance")),
    }


@pytest.mark.req("11.10(g)")
@pytest.mark.req("11.50(a)")
@pytest.mark.req("11.200(a)(1)")
@pytest.mark.req("A11-14")
def test_the_demo_eu_case_is_released_at_the_physicians_request_and_ema_and_the_authority_told_within_48_hours(
        page, app, case_ids):
    walk = Walk(page, app, case_ids[EU_LOT], records=eu_records, zone=BERLIN)

    # QA opens the case: EU regime, OOS notification signed; she answers that the manufacturer is the MAH,
    # so no manufacturer-MAH agreement is needed.
    walk.sign_in("akiko.tanaka")
    case = walk.open_case()
    expect(case.locator("h1")).to_contain_text(EU_LOT)
    expect(case.locator(".facts").first).to_contain_text("EU: exceptional supply of an OOS ATMP batch")
    expect(case.locator("#checklist-oos_notification")).to_have_class(re.compile("done"))
    expect(case.locator("#checklist-mah_agreement td").nth(1)).to_contain_text("Unanswered")
    answer(case, "marketing authorisation holder", "no")
    expect(case.locator("#checklist-mah_agreement td").nth(1)).to_have_text("Not needed")
    expect(deadline(case, "EMA informed within 48 hours")).to_contain_text("waiting for: Administration")
    walk.sign_out()

    # QC writes the deviation report.
    kenji = walk.turn("kenji.sato", writes=("deviation_report",))
    assert [number[:3] for number in kenji.created] == ["DEV"]

    # The treating physician writes and signs his justification, his request for the lot and the consent record.
    lukas = walk.turn("lukas.weber", writes=("physician_justification", "supply_request", "informed_consent"))
    assert sorted(number.split("-")[0] for number in lukas.created) == ["IC", "PJ", "SUP"]
    assert sorted(entry.split("-")[0] for entry in lukas.signed) == ["IC", "IC", "PJ", "PJ", "SUP"]
    assert lukas.refused == {}
    assert lukas.asked_for_username == [True] + [False] * 4  # both components first, then the password only

    # Regulatory Affairs assesses the deviation's reportability; the notifications wait for the administration.
    naoko = walk.turn("naoko.ito")
    assert [entry.split(":")[0][:3] for entry in naoko.signed] == ["DEV"]
    assert naoko.not_for_me == ["regulatory_notification"]

    # QA records the physician's acceptance of the lot he requested, and reviews the deviation report.
    akiko = walk.turn("akiko.tanaka", writes=("physician_acceptance",))
    [acceptance] = akiko.created
    assert f"{acceptance}: Recorded by the manufacturer's QA" in akiko.signed
    assert any(entry.startswith("DEV-") and "Reviewed by QA" in entry for entry in akiko.signed)

    # Another physician cannot confirm it for him.
    wrong_physician_is_refused(walk, "emily.chen", "physician_acceptance",
                               "Treating physician confirms the acceptance", "lukas.weber")

    lukas = walk.turn("lukas.weber")
    assert lukas.signed == [f"{acceptance}: Treating physician confirms the acceptance"]

    # QA (second person) approves the deviation report, then writes the release and signs it as reviewed;
    # QA (first person) approves it.
    hiroshi = walk.turn("hiroshi.yamamoto", stay=True)
    assert any(entry.startswith("DEV-") and "Approved by QA" in entry for entry in hiroshi.signed)
    hiroshi = walk.turn("hiroshi.yamamoto", writes=("qa_release",), signed_in=True)
    [release] = hiroshi.created
    assert hiroshi.signed == [f"{release}: Reviewed by QA"]
    akiko = walk.turn("akiko.tanaka", stay=True)
    assert akiko.signed == [f"{release}: Approved by QA (a second person)"]
    case = walk.open_case()
    expect(case.locator("#administration-ready")).to_be_visible()
    walk.sign_out()

    # The physician records the administration, in Berlin time: the two 48-hour clocks start.
    walk.sign_in("lukas.weber")
    administered = minute(BERLIN)
    case = record_date(walk, "administration", administered, BERLIN)
    for label in ("EMA informed within 48 hours", "Competent authority that granted"):
        expect(deadline(case, label)).to_have_class("deadline-pending")
        expect(deadline(case, label).locator("td").nth(1)).to_have_text(shown(administered + timedelta(hours=48),
                                                                              BERLIN))
    walk.sign_out()

    # Regulatory Affairs: the inbox now shows the notification with its due time; she tells EMA, then the
    # competent authority (a second notification, from the case page's Create button), and signs both.
    walk.sign_in("naoko.ito")
    page.click("#nav-tasks")
    task = page.locator("#tasks-table tr.task-case").filter(has=page.locator(f"a[href='/cases/{walk.case_id}']"))
    expect(task.locator("td").nth(4)).to_have_text(shown(administered + timedelta(hours=48), ZONES["naoko.ito"]))
    naoko = walk.turn("naoko.ito", writes=("regulatory_notification",), signed_in=True, stay=True)
    [to_ema] = naoko.created
    assert naoko.signed == [f"{to_ema}: Prepared by Regulatory Affairs"]
    case = walk.open_case()
    to_authority = walk.create(case.locator("#create-regulatory_notification").get_attribute("href"),
                               "regulatory_notification",
                               notification(walk.numbers(), "national_competent_authority", "MIA-OOS-2026-017"))
    naoko = walk.turn("naoko.ito", signed_in=True)
    assert naoko.signed == [f"{to_authority}: Prepared by Regulatory Affairs"]

    # QA approves both.
    akiko = walk.turn("akiko.tanaka")
    assert sorted(akiko.signed) == sorted([f"{to_ema}: Approved by QA", f"{to_authority}: Approved by QA"])

    # The case file as the physician in Berlin sees it: both 48-hour deadlines met, everything approved; no
    # suspected adverse reaction, so no report to EudraVigilance is needed.
    walk.sign_in("lukas.weber")
    case = walk.open_case()
    answer(case, "suspected adverse reaction", "no")
    for label in ("EMA informed within 48 hours", "Competent authority that granted"):
        expect(deadline(case, label)).to_have_class("deadline-met")
        expect(deadline(case, label).locator("td").nth(3)).to_have_text("met on time")
    assert_case_file_complete(walk, not_needed=("mah_agreement", "safety_report"))
    assert_release_signed(walk, BERLIN, reviewer="hiroshi.yamamoto", approver="akiko.tanaka")
    page = open_record(walk, "supply_request")
    expect(page.locator("#manifestations .signer")).to_have_text(f"{PRINTED['lukas.weber']} (lukas.weber)")
    expect(page.locator("#manifestations .meaning")).to_have_text("Responsibility")
    expect(page.locator("#manifestations .signed-at")).to_have_text(signed_at(BERLIN))
    walk.sign_out()


# --- US: U2026-0311, MD Anderson Houston ----------------------------------------------------------------------

US_LOT = "U2026-0311"
LETTER_ISSUED, IRB_SUBMITTED, FDA_SUBMITTED, FDA_RECEIVED = (timedelta(days=d) for d in (36, 35, 33, 32))


def us_records(now: datetime, numbers: dict[str, str]) -> dict[str, dict[str, object]]:
    """What each person writes in the US case, by type. The IND went to FDA a month ago."""
    return {
        "letter_of_authorization": {
            "manufacturer": "Meridian Cell Therapeutics, Inc., Houston, TX", "application_type": "ind",
            "application_number": "019283", "physician_name": PRINTED["emily.chen"],
            "authorized_information": "Chemistry, manufacturing and controls information of IND 019283, including "
                                      "the OOS CAR-expression result of lot U2026-0311 and its certificate of "
                                      "analysis; pharmacology and toxicology; clinical safety data.",
            "issued_on": date_of(now - LETTER_ISSUED, "naoko.ito"),
        },
        "deviation_report": {
            "description": "CAR expression of lot U2026-0311 was 14.5 % of viable T cells against a release limit "
                           "of ≥ 20 % (SOP-QC-121).",
            "detection": "Release testing by flow cytometry; repeated on the retained sample with the same result.",
            "impact": "Lower CAR+ dose; viability, sterility, endotoxin, mycoplasma and RCL met their limits. No "
                      "safety specification is affected.",
            "root_cause": "Lower transduction efficiency with this patient's T cells (heavily pre-treated myeloma).",
            "corrective_actions": "Lot quarantined pending the physician's expanded access IND and QA release.",
            "preventive_actions": "Transduction trend review added for patients after four or more prior lines.",
            "capa_reference": "CAPA-2026-0039",
        },
        "physician_justification": {
            "oos_notification": numbers["oos_notification"],
            "diagnosis": "Relapsed/refractory multiple myeloma after four prior lines (proteasome inhibitor, "
                         "immunomodulatory agent, anti-CD38 antibody)",
            "no_alternative": "Triple-class refractory; not eligible for an open trial because of renal impairment.",
            "remanufacture_considered": "A second apheresis and manufacturing run would take 6-8 weeks; free light "
                                        "chains are rising.",
            "urgency": "urgent",
            "expected_benefit": "Lots with CAR expression below specification have shown responses comparable to "
                                "lots within it.",
            "assessed_risk": "Possibly lower efficacy; no safety specification failed (the manufacturer's risk "
                             "assessment).",
            "decision": "proceed",
        },
        "ethics_approval": {
            "committee_name": "The University of Texas MD Anderson Cancer Center IRB",
            "committee_type": "irb_21cfr56", "committee_reference": "2026-0311-EA", "review_type": "chair_concurrence",
            "patient_ref": "PT-US0917", "submitted_at": entered(now - IRB_SUBMITTED, "emily.chen"),
            "decision": "approved", "decision_date": date_of(now - IRB_SUBMITTED + timedelta(days=1), "emily.chen"),
            "related_documents": numbers.get("physician_justification", ""),
        },
        "informed_consent": {
            "information_given": "The OOS CAR-expression result (14.5 % against ≥ 20 %), that the product is "
                                 "investigational, the expected benefit, the risks and the alternatives (21 CFR 50.25).",
            "questions_answered": "Whether the side effects differ from a lot within specification: no evidence "
                                  "that they do.",
            "consent": "given", "consent_date": date_of(now, "emily.chen"), "witness_name": "", "witness_role": "",
        },
        "fda_acknowledgement": {
            "ind_number": "031744", "physician_name": PRINTED["emily.chen"],
            "letter_of_authorization": numbers.get("letter_of_authorization", ""),
            "submitted_at": entered(now - FDA_SUBMITTED, "naoko.ito"),
            "fda_received_at": entered(now - FDA_RECEIVED, "naoko.ito"),
            "earlier_treatment_allowed": "no", "emergency_telephone_authorization": "no",
        },
        "qa_release": {
            "oos_result": "CAR expression 14.5 % of viable T cells (specification ≥ 20 %)",
            "relies_on": " ".join(numbers.get(key, "") for key in ("oos_notification", "deviation_report",
                                                                  "physician_justification", "informed_consent")),
            "release_decision": "release",
            "conditions": "Under IND 031744 only, not before 30 days after FDA's receipt; enhanced monitoring for "
                          "cytokine release syndrome and neurotoxicity.",
        },
    }


@pytest.mark.req("11.10(f)")
@pytest.mark.req("11.10(g)")
@pytest.mark.req("11.50(a)")
@pytest.mark.req("11.200(a)(1)")
@pytest.mark.req("A11-14")
def test_the_demo_us_case_is_released_under_the_physicians_expanded_access_ind_after_the_30_day_wait(
        page, app, case_ids):
    walk = Walk(page, app, case_ids[US_LOT], records=us_records, zone=CHICAGO)
    wait = "Treatment not before 30 days after FDA receipt"

    # Regulatory Affairs writes the manufacturer's Letter of Authorization; FDA's acknowledgement comes later.
    naoko = walk.turn("naoko.ito", writes=("letter_of_authorization",))
    [letter] = naoko.created
    assert naoko.signed == [f"{letter}: Prepared by Regulatory Affairs"]
    assert "fda_acknowledgement" in naoko.not_for_me

    kenji = walk.turn("kenji.sato", writes=("deviation_report",))
    assert [number[:3] for number in kenji.created] == ["DEV"]

    # The treating physician: her justification, the IRB chair's concurrence and the consent record.
    emily = walk.turn("emily.chen", writes=("physician_justification", "ethics_approval", "informed_consent"))
    assert sorted(number.split("-")[0] for number in emily.created) == ["ETH", "IC", "PJ"]
    assert sorted(entry.split("-")[0] for entry in emily.signed) == ["ETH", "IC", "IC", "PJ", "PJ"]

    # QA approves the letter, verifies the IRB record, reviews the deviation report; then tries to release:
    # refused, and the signing page names what is missing.
    akiko = walk.turn("akiko.tanaka", stay=True)
    assert f"{letter}: Approved by QA" in akiko.signed
    assert akiko.asked_for_username == [True] + [False] * (len(akiko.signed) - 1)
    assert any(entry.startswith("ETH-") for entry in akiko.signed)
    assert any(entry.startswith("DEV-") and "Reviewed by QA" in entry for entry in akiko.signed)
    case = walk.open_case()
    expect(case.locator("#checklist-qa_release")).to_have_class(re.compile("blocked"))
    expect(deadline(case, wait)).to_contain_text("waiting for")
    values = us_records(walk.now, walk.numbers())["qa_release"]
    release = walk.create(case.locator("#create-qa_release").get_attribute("href"), "qa_release", values)
    page.goto(re.sub(r"(/documents/\d+).*$", r"\1/versions/1/sign", page.url))
    refusal = page.locator("#signing-refused")
    expect(refusal).to_contain_text("This record cannot be signed yet")
    expect(refusal).to_contain_text("FDA acknowledgement of the expanded access IND must be approved first")
    expect(refusal).to_contain_text("Deviation report must be approved first")
    expect(refusal).not_to_contain_text("Letter of Authorization")
    expect(page.locator("#confirm-signature")).to_have_count(0)
    walk.sign_out()

    # Regulatory Affairs assesses the deviation report and records FDA's acknowledgement of the IND.
    naoko = walk.turn("naoko.ito", writes=("fda_acknowledgement",))
    [acknowledgement] = naoko.created
    assert f"{acknowledgement}: Recorded by Regulatory Affairs" in naoko.signed
    assert any(entry.startswith("DEV-") for entry in naoko.signed)

    # QA (second person) approves the deviation report; the release still waits for the acknowledgement.
    hiroshi = walk.turn("hiroshi.yamamoto")
    assert any(entry.startswith("DEV-") and "Approved by QA" in entry for entry in hiroshi.signed)
    assert release in hiroshi.refused

    # Another physician cannot confirm the acknowledgement for the sponsor-investigator; she does.
    confirmed_by = "Confirmed by the sponsor-investigator (treating physician)"
    wrong_physician_is_refused(walk, "lukas.weber", "fda_acknowledgement", confirmed_by, "emily.chen")
    emily = walk.turn("emily.chen")
    assert emily.signed == [f"{acknowledgement}: {confirmed_by}"]

    # The 30-day wait from FDA's receipt, in Houston's calendar: over, so treatment is allowed now.
    received = (walk.now - FDA_RECEIVED).astimezone(CHICAGO)
    allowed_from = datetime.combine(received.date() + timedelta(days=30), time(0), tzinfo=CHICAGO)
    walk.sign_in("akiko.tanaka")
    case = walk.open_case()
    expect(deadline(case, wait).locator("td").nth(1)).to_have_text(shown(allowed_from, CHICAGO))
    expect(deadline(case, wait).locator("td").nth(3)).to_have_text("allowed now")
    expect(deadline(case, "FDA's earlier permission")).to_have_class("deadline-not_applicable")
    akiko = walk.turn("akiko.tanaka", signed_in=True)
    assert akiko.signed == [f"{release}: Reviewed by QA"]
    hiroshi = walk.turn("hiroshi.yamamoto")
    assert hiroshi.signed == [f"{release}: Approved by QA (a second person)"]

    # The physician records the administration in Houston time and answers that there was no adverse event.
    walk.sign_in("emily.chen")
    case = record_date(walk, "administration", minute(CHICAGO), CHICAGO)
    expect(deadline(case, wait)).to_have_class("deadline-met")
    answer(case, "adverse event", "no")
    answer(case, "unanticipated problem", "no")

    # At the end of treatment she writes the summary to FDA (312.310(c)(2)); Regulatory Affairs submits it.
    summary = walk.create(case.locator("#create-treatment_summary").get_attribute("href"), "treatment_summary", {
        "treatment_concluded_at": entered(walk.now, "emily.chen"),
        "results": "Infusion tolerated; discharged on day 8 without CRS above grade 1.",
        "adverse_effects": "Grade 1 CRS on day 2, resolved without tocilizumab.",
        "submitted_at": entered(walk.now, "emily.chen")})
    emily = walk.turn("emily.chen", signed_in=True)
    assert emily.signed == [f"{summary}: Written by the treating physician"]
    naoko = walk.turn("naoko.ito")
    assert f"{summary}: Checked and submitted by Regulatory Affairs" in naoko.signed

    # The case file as she sees it.
    walk.sign_in("emily.chen")
    assert_case_file_complete(walk, not_needed=("safety_report", "irb_problem_report"))
    assert_release_signed(walk, CHICAGO, reviewer="akiko.tanaka", approver="hiroshi.yamamoto")
    page = open_record(walk, "fda_acknowledgement")
    expect(page.locator("#manifestations .signer")).to_have_text([f"{PRINTED['naoko.ito']} (naoko.ito)",
                                                                  f"{PRINTED['emily.chen']} (emily.chen)"])
    expect(page.locator("#manifestations .meaning")).to_have_text(["Authored", "Verified"])
    expect(page.locator("#manifestations .signed-at")).to_have_text([signed_at(CHICAGO)] * 2)
    walk.sign_out()
