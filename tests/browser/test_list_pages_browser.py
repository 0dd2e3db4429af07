"""A QA user reads a list longer than a page: the cases list from the navigation shows a page, and "Next page"
(「次のページ」 in Japanese) the cases after it, each case once, until the last page has no such link."""
import re

import pytest
from playwright.sync_api import expect

from edms.web import paging
from tests.browser.conftest import browser_sign_in, choose_language
from tests.conftest import PASSWORD, bearer
from tests.integration.test_keyset_paging import open_cases

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("language", "next_label"), [("en", "Next page"), ("ja", "次のページ")])
def test_a_qa_user_pages_through_the_cases_from_the_navigation(app, client, page, people, monkeypatch, language,
                                                               next_label):
    monkeypatch.setattr(paging, "PAGE_SIZE", 3)  # a page of three, so five cases make two pages
    people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    opened = open_cases(client, bearer(client, "akiko.tanaka"), 5)
    browser_sign_in(page, "akiko.tanaka", PASSWORD)
    if language == "ja":
        choose_language(page, "ja")
    page.click("#nav-cases")
    rows = page.locator("#cases-table tbody tr")
    expect(rows).to_have_count(3)
    first = [rows.nth(i).locator("td").first.inner_text() for i in range(3)]
    expect(page.locator("#next-page")).to_have_text(next_label)
    page.click("#next-page")
    expect(page).to_have_url(re.compile(r"/cases/\?cursor="))
    expect(rows).to_have_count(2)
    second = [rows.nth(i).locator("td").first.inner_text() for i in range(2)]
    assert first + second == list(reversed(opened))  # newest first, each case once
    expect(page.locator("#next-page")).to_have_count(0)
