"""A QA user reads the deadline dashboard a page of cases at a time: from the cases list, "Deadlines", then
"Next page" (「次のページ」 in Japanese) to the cases after them, each case's deadlines once, until the last page
has no such link (issue #15, scale: the dashboard no longer computes every open case on each request)."""
import pytest
from playwright.sync_api import expect

from edms.web import paging
from tests.browser.conftest import browser_sign_in, choose_language
from tests.conftest import PASSWORD, bearer

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("language", "next_label"), [("en", "Next page"), ("ja", "次のページ")])
def test_a_qa_user_pages_through_the_deadline_dashboard(app, client, page, people, monkeypatch, language,
                                                        next_label):
    monkeypatch.setattr(paging, "PAGE_SIZE", 1)  # a page of one case, so two administered cases make two pages
    people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    headers = bearer(client, "akiko.tanaka")
    references = []
    for number, administered in enumerate(("2026-10-24T12:00:00+00:00", "2026-10-22T12:00:00+00:00")):
        opened = client.post("/api/v1/cases", headers=headers, json={
            "regime": "eu", "product": "Autologous anti-CD19 CAR-T", "lot": f"E2026-{number:04d}",
            "patient_ref": f"PT-EU{3300 + number}", "treating_site": "Charité Berlin",
            "site_timezone": "Europe/Berlin", "oos_detected_at": "2026-10-20T08:00:00+00:00"})
        assert opened.status_code == 201, opened.json
        references.append(opened.json["reference"])
        dated = client.post(f"/api/v1/cases/{opened.json['id']}/dates", headers=headers,
                            json={"key": "administration", "value": administered})
        assert dated.status_code == 200, dated.json
    browser_sign_in(page, "akiko.tanaka", PASSWORD)
    if language == "ja":
        choose_language(page, "ja")
    page.click("#nav-cases")
    page.click("#deadline-dashboard")
    table = page.locator("#deadline-table")
    expect(table).to_contain_text(references[1])  # administered earlier: its deadlines press first
    expect(table).not_to_contain_text(references[0])
    expect(page.locator("#next-page")).to_have_text(next_label)
    page.click("#next-page")
    expect(table).to_contain_text(references[0])
    expect(table).not_to_contain_text(references[1])
    expect(page.locator("#next-page")).to_have_count(0)
