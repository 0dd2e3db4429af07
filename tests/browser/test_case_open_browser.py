"""A QA user at the browser opens an OOS case for lot E2026-0219 under the EU regime: sees what the regime
needs and who acts next, records and corrects a date with a reason (the earlier value stays visible),
answers the regime's question and sees the 48-hour clocks with their time left; a patient's name typed as
the patient reference is refused and nothing is created (21 CFR 11.10(e), (f); EU Annex 11 §9; GDPR
pseudonymisation of the case file)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from edms.cases.models import Case
from tests.browser.conftest import browser_sign_in
from tests.conftest import PASSWORD
from tests.support.sites import make_site

pytestmark = pytest.mark.browser

BERLIN = ZoneInfo("Europe/Berlin")
LOT = "E2026-0219"


def local_input(moment: datetime) -> str:
    """A moment as an HTML datetime-local input takes it, at the treating site (Berlin)."""
    return moment.astimezone(BERLIN).strftime("%Y-%m-%dT%H:%M")


def shown(moment: datetime) -> str:
    """How the case page prints a site-time moment entered to the minute: `2026-05-04 09:30:00 CEST (UTC+02:00)`."""
    local = moment.astimezone(BERLIN)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M}:00 {local.tzname()} (UTC{offset[:3]}:{offset[3:]})"


def fill_case_form(page, *, patient_ref: str, detected: datetime) -> None:
    page.select_option("#regime_key", "eu")
    page.fill("#product", "Autologous anti-CD19 CAR-T (axicabtagene-like)")
    page.fill("#lot", LOT)
    page.fill("#patient_ref", patient_ref)
    page.select_option("#site_id", label="Charité – Universitätsmedizin Berlin (DE, Europe/Berlin)")
    page.select_option("#physician_id", label="Dr. med. Lukas Weber")
    page.fill("#oos_detected_at", local_input(detected))


def record_date(page, key: str, moment: datetime, reason: str = "") -> None:
    page.select_option("#date-key", key)
    page.fill("#date-value", local_input(moment))
    page.fill("#date-reason", reason)
    page.click("#record-date")


def case_count(app) -> int:
    with app.extensions["edms"].sessions() as session:
        return session.scalar(select(func.count()).select_from(Case))


@pytest.mark.req("11.10(e)")
@pytest.mark.req("11.10(f)")
@pytest.mark.req("A11-9")
@pytest.mark.req("ERES-authenticity")
def test_qa_opens_an_eu_case_sees_the_checklist_corrects_a_date_answers_the_question_and_sees_the_clocks(
        app, page, people):
    people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    people.make("lukas.weber", "physician", printed_name="Dr. med. Lukas Weber", timezone="Europe/Berlin")
    make_site(app, "Charité – Universitätsmedizin Berlin", "Europe/Berlin", "DE", ("lukas.weber",))
    now = datetime.now(BERLIN).replace(second=0, microsecond=0)
    detected = now - timedelta(days=1, hours=3)

    browser_sign_in(page, "akiko.tanaka", PASSWORD)
    page.click("#nav-cases")
    page.click("#new-case")
    expect(page.locator("h1")).to_have_text("Open a case")

    # A name where the pseudonymous code belongs: refused with the reason, the form kept, nothing created.
    fill_case_form(page, patient_ref="Maria Schneider", detected=detected)
    page.click("#open-case")
    expect(page.locator(".flash-error")).to_contain_text(
        "The patient reference must be a pseudonymous code such as PT-7Q4X, never a name.")
    expect(page.locator("#lot")).to_have_value(LOT)
    assert case_count(app) == 0
    page.click("#nav-cases")
    expect(page.locator("#cases-table")).to_contain_text("No cases.")
    expect(page.locator("#cases-table")).not_to_contain_text("Maria Schneider")

    page.click("#new-case")
    fill_case_form(page, patient_ref="PT-EU5521", detected=detected)
    page.click("#open-case")
    expect(page.locator(".flash-success")).to_contain_text("opened")
    reference = page.locator("#case-reference").inner_text()
    assert re.fullmatch(r"CASE-\d{4}-\d{4}", reference)
    facts = page.locator("dl.facts").first
    expect(facts).to_contain_text("EU: exceptional supply of an OOS ATMP batch")
    expect(facts).to_contain_text("PT-EU5521")
    expect(facts).to_contain_text("Charité – Universitätsmedizin Berlin (Europe/Berlin)")
    expect(facts).to_contain_text("Dr. med. Lukas Weber")
    expect(page.locator("#date-oos_detected")).to_have_text(shown(detected))

    # What the regime needs, and who acts next: QC writes the OOS notification; everything else waits for it.
    checklist = page.locator("#checklist")
    for record in ("OOS notification", "Deviation report", "Physician's justification", "Informed consent record",
                   "QA release decision", "Regulatory notification"):
        expect(checklist).to_contain_text(record)
    oos = page.locator("#checklist-oos_notification")
    expect(oos).to_contain_text("Open")
    expect(oos.locator(".badge")).to_have_text("Author (manufacturing / QC)")
    justification = page.locator("#checklist-physician_justification")
    expect(justification).to_contain_text("OOS notification must be approved first")
    release = page.locator("#checklist-qa_release")
    expect(release.locator(".blocker").first).to_be_visible()
    expect(page.locator("#administration-blockers")).to_contain_text(
        "QA release decision (OOS lot) must be approved first")
    mah = page.locator("#checklist-mah_agreement")
    expect(mah).to_contain_text("Unanswered")

    # The planned administration, then a correction: a reason is required and the earlier value stays visible.
    planned = now + timedelta(days=3)
    record_date(page, "planned_administration", planned)
    expect(page.locator(".flash-success")).to_contain_text("Date recorded.")
    expect(page.locator("#date-planned_administration")).to_have_text(shown(planned))
    moved = planned + timedelta(days=1, hours=2)
    record_date(page, "planned_administration", moved)
    expect(page.locator(".flash-error")).to_contain_text("A reason is required to change a date already recorded.")
    expect(page.locator("#date-planned_administration")).to_have_text(shown(planned))
    record_date(page, "planned_administration", moved, "Patient's bridging therapy extended by one day")
    expect(page.locator(".flash-success")).to_contain_text("Date recorded.")
    expect(page.locator("#date-planned_administration")).to_have_text(shown(moved))
    history = page.locator("#date-history-planned_administration")
    expect(history.locator("del")).to_have_text(shown(planned))
    expect(history).to_contain_text("Patient's bridging therapy extended by one day")

    # The regime's question, asked of QA: once answered yes, the MAH agreement is needed before release.
    question = page.locator(".question", has_text="marketing authorisation holder")
    expect(question).to_contain_text("Unanswered")
    question.locator("select[name=answer]").select_option("yes")
    question.locator("button").click()
    expect(page.locator(".flash-success")).to_contain_text("Answer recorded.")
    expect(page.locator(".question", has_text="marketing authorisation holder")).to_contain_text("— Yes")
    expect(page.locator("#checklist-mah_agreement td").nth(1)).to_have_text("Yes")
    expect(page.locator("#checklist-qa_release")).to_contain_text(
        "Manufacturer-MAH written agreement (OOS supply) must be approved first")

    # The 48-hour clocks (EMA, the competent authority and, the MAH differing, the MAH) start at administration:
    # waiting until it is recorded, then due with time left.
    deadlines = page.locator("#deadlines")
    expect(deadlines.locator("tr.deadline-waiting_for_anchor")).to_have_count(3)
    expect(deadlines).to_contain_text("waiting for: Administration")
    administered = now - timedelta(hours=2)
    record_date(page, "administration", administered)
    expect(page.locator(".flash-success")).to_contain_text("Date recorded.")
    ema = page.locator("#deadlines tr", has_text="EMA informed within 48 hours of administration")
    expect(ema).to_have_class(re.compile(r"deadline-pending"))
    expect(ema.locator("td").nth(1)).to_have_text(shown(administered + timedelta(hours=48)))
    expect(ema.locator("td").nth(3)).to_have_text(re.compile(r"^in 1 day 2[12] h$"))
    expect(page.locator("#deadlines tr.deadline-pending")).to_have_count(3)

    # The same clocks on the QA dashboard, in the site's zone and in the user's own (Tokyo).
    page.click("#nav-cases")
    page.click("#deadline-dashboard")
    row = page.locator("#deadline-table tr", has_text="EMA informed")
    expect(row).to_contain_text(reference)
    expect(row).to_contain_text(shown(administered + timedelta(hours=48)))
    expect(row).to_contain_text("JST (UTC+09:00)")
    expect(row).to_contain_text("in 1 day")
    assert case_count(app) == 1
