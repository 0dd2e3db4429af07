"""A reader who chose Japanese meets error pages in Japanese: the app's own page, with its header and a way back."""
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import browser_sign_in, choose_language
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.mark.req("ERES-legibility")
def test_a_missing_page_and_a_refused_page_read_in_japanese_after_choosing_japanese(page, people, organisation_pki):
    people.make("kenji.sato", "author", printed_name="Kenji Sato")
    page.goto("/login")
    choose_language(page, "ja")
    expect(page.locator("h1")).to_have_text("サインイン")
    missing = page.goto("/no-such-page")
    assert missing is not None and missing.status == 404
    expect(page.locator("h1")).to_have_text("404 · ページが見つかりません")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    browser_sign_in(page, "kenji.sato", PASSWORD)
    expect(page.locator("h1")).to_contain_text("ようこそ")
    refused = page.goto("/admin/users")
    assert refused is not None and refused.status == 403
    expect(page.locator("h1")).to_have_text("403 · アクセス拒否")
    expect(page.locator("main")).to_contain_text("ご自身のロールでは、このページまたは操作は許可されていません。")
    page.click("text=ホームページに戻る")
    expect(page.locator("h1")).to_contain_text("ようこそ")
