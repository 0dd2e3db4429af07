"""An administrator at the browser: the Active sessions page, reached from the navigation, lists who is signed
in; ending one session with a reason signs that person out at their next request (English and Japanese)."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import browser_sign_in, choose_language
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

WORDS = {
    "en": {"title": "Active sessions", "ended": "has ended", "missing": "Give the reason"},
    "ja": {"title": "アクティブなセッション", "ended": "セッションを終了しました", "missing": "理由を入力してください"},
}


@pytest.mark.req("11.10(d)", "A11-12")
@pytest.mark.parametrize("language", ["en", "ja"])
def test_an_administrator_ends_a_signed_in_persons_session_from_the_active_sessions_page(
        page, browser, live_server, people, language):
    words = WORDS[language]
    people.make("daisuke.kato", "admin", printed_name="Daisuke Kato")
    people.make("kenji.sato", "author", printed_name="Kenji Sato")
    ward = browser.new_context(base_url=live_server, locale="en-US")
    person = ward.new_page()
    try:
        browser_sign_in(person, "kenji.sato", PASSWORD)
        expect(person.locator("h1")).to_contain_text("Welcome, Kenji Sato")

        browser_sign_in(page, "daisuke.kato", PASSWORD)
        if language == "ja":
            choose_language(page, "ja")
        page.click("#nav-sessions")
        expect(page.locator("h1")).to_have_text(words["title"])
        row = page.locator("tr.web-session", has_text="Kenji Sato")
        expect(row).to_have_count(1)
        expect(page.locator("tr.web-session", has_text="Daisuke Kato")).to_have_count(1)

        row.get_by_role("button").click()  # no reason: refused, nothing ended
        expect(page.locator(".flash-error")).to_contain_text(words["missing"])
        expect(page.locator("tr.web-session", has_text="Kenji Sato")).to_have_count(1)

        row = page.locator("tr.web-session", has_text="Kenji Sato")
        row.locator("input[name=reason]").fill("Workstation left signed in on the ward")
        row.get_by_role("button").click()
        expect(page.locator(".flash-success")).to_contain_text(words["ended"])
        expect(page.locator("tr.web-session", has_text="Kenji Sato")).to_have_count(0)

        person.goto("/documents/")
        expect(person).to_have_url(re.compile(r"/login"))
    finally:
        ward.close()
