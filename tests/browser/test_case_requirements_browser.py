"""A treating physician at the browser, in English and in Japanese, writes the IRB record of a case under
Japan's current regime: the form says what the regime needs next to "What was reviewed" and has the
protocol approval filled in; choosing a per-use review instead is warned about when saved, and submitting it
is refused with the field and the value needed, before anyone signs. An OOS notification written before the
case was opened (same lot and patient) is then attached to the case with a reason, and the checklist counts
it (issue 12; 21 CFR 11.10(f))."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import browser_sign_in, choose_language
from tests.conftest import PASSWORD, bearer
from tests.support.examples import VALUES

pytestmark = pytest.mark.browser

LOT, PATIENT = "J2026-0088", "PT-JP4821"

TEXT = {
    "en": {"requirement": "Required in this case", "protocol": "Protocol (clinical trial or expanded-access protocol)",
           "warning": "could never satisfy the case's gate", "refused": "was not submitted",
           "attached": "now belongs to case"},
    "ja": {"requirement": "本案件", "protocol": "治験実施計画書又は拡大アクセスプロトコル",
           "warning": "この記録では本案件の要件を満たせません", "refused": "は提出されませんでした",
           "attached": "に追加しました"},
}


def _setup(app, people) -> tuple[dict, str]:
    """A jp_current case opened by QA naming Dr Ito its treating physician, and an OOS notification QC
    wrote before the case existed."""
    people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    people.make("kenji.sato", "author", printed_name="Kenji Sato")
    physician = people.make("haruto.ito", "physician", printed_name="Haruto Ito")
    client = app.test_client()
    case = client.post("/api/v1/cases", headers=bearer(client, "akiko.tanaka"), json={"physician_id": physician.id,
        "regime": "jp_current", "product": "Autologous anti-CD19 CAR-T", "lot": LOT, "patient_ref": PATIENT,
        "treating_site": "Osaka University Hospital", "site_timezone": "Asia/Tokyo",
        "oos_detected_at": "2026-11-20T09:30:00+09:00"}).json
    oos = client.post("/api/v1/documents", headers=bearer(client, "kenji.sato"), json={
        "type": "oos_notification", "title": "Viability OOS, lot J2026-0088",
        "values": {**VALUES["oos_notification"], "lot": LOT, "patient_ref": PATIENT}})
    assert oos.status_code == 201, oos.json
    return case, oos.json["number"]


@pytest.mark.req("11.10(f)")
@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_form_shows_and_fills_the_requirement_warns_refuses_and_an_existing_record_is_attached(
        app, page, people, language):
    case, oos_number = _setup(app, people)
    text = TEXT[language]
    browser_sign_in(page, "haruto.ito", PASSWORD)
    if language == "ja":
        choose_language(page, "ja")
    page.click("#nav-cases")
    page.click(f"a:has-text('{case['reference']}')")
    page.click("#create-ethics_approval")

    requirement = page.locator("#requirement-review_type")
    expect(requirement).to_contain_text(text["requirement"])
    expect(requirement).to_contain_text(text["protocol"])
    expect(page.locator("#field_review_type")).to_have_value("protocol_approval")
    expect(page.locator("#field_decision")).to_have_value("")  # a decision is never filled in
    expect(page.locator("#live-warning-field_review_type")).to_be_hidden()

    ethics = VALUES["ethics_approval"]
    page.fill("#field_committee_name", str(ethics["committee_name"]))
    page.select_option("#field_committee_type", "gcp_irb")
    page.fill("#field_committee_reference", str(ethics["committee_reference"]))
    page.select_option("#field_review_type", "chair_concurrence")  # not what this regime needs
    expect(page.locator("#live-warning-field_review_type")).to_be_visible()  # said at once, on the page
    page.fill("#field_submitted_at", "2026-11-24T10:30")
    page.select_option("#field_decision", "approved")
    page.fill("#field_decision_date", "2026-11-25")
    page.click("#save-document")
    expect(page.locator(".flash-warning")).to_contain_text(text["warning"])

    page.click("#submit-document")
    expect(page.locator(".flash-error")).to_contain_text(text["refused"])
    expect(page.locator("#submit-document")).to_be_visible()  # still a draft: nothing was frozen

    page.click("#nav-cases")
    page.click(f"a:has-text('{case['reference']}')")
    page.click("#attach-existing")
    expect(page.locator(f"#candidate-{oos_number}")).to_be_visible()
    page.fill("#attach-number", oos_number)
    page.fill("#attach-reason", "Written by QC before the case was opened")
    page.click("#attach-submit")
    expect(page.locator(".flash-success")).to_contain_text(text["attached"])
    expect(page.locator("#checklist-oos_notification")).to_contain_text(oos_number)
