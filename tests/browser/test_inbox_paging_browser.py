"""A QA user whose cases need more records than a page holds opens Tasks from the navigation: the page lists the
records of the first cases, and "Next page" (「次のページ」 in Japanese) those of the cases after them, each case on
one page only, until the last page has no such link."""
import re

import pytest
from playwright.sync_api import expect

from edms.web import paging
from tests.browser.conftest import browser_sign_in, choose_language
from tests.conftest import PASSWORD
from tests.integration.test_scale_lists import ADMINISTERED, _open

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("language", "next_label"), [("en", "Next page"), ("ja", "次のページ")])
def test_a_qa_user_pages_through_the_inbox_from_the_navigation(app, page, people, monkeypatch, language, next_label):
    monkeypatch.setattr(paging, "PAGE_SIZE", 2)  # the records of two cases a page: five cases make three pages
    people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    services = app.extensions["edms"]
    for number in range(5):
        _open(services, number, administered=ADMINISTERED if number % 2 else None)
    browser_sign_in(page, "akiko.tanaka", PASSWORD)
    if language == "ja":
        choose_language(page, "ja")
    page.click("#nav-tasks")
    pages: list[set[str]] = []
    while True:
        rows = page.locator("#tasks-table tbody tr.task-case")
        expect(rows.first).to_be_visible()
        pages.append({rows.nth(i).locator("td").nth(3).inner_text() for i in range(rows.count())})
        if page.locator("#next-page").count() == 0:
            break
        expect(page.locator("#next-page")).to_have_text(next_label)
        page.click("#next-page")
        expect(page).to_have_url(re.compile(r"/tasks/\?cursor="))
        assert len(pages) < 10, "the pages never end"
    assert [len(cases) for cases in pages] == [2, 2, 1]
    assert len(set().union(*pages)) == 5  # each case on one page only
