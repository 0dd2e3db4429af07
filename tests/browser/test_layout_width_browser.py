"""Every main page fits a 1280-pixel-wide window in English and in Japanese: no horizontal scrolling, and no
table column narrower than four characters, so a Japanese cell never breaks a word after every character
(issue 12, "Seeing where a case stands"). Measured in the browser on the demo as `edms demo` builds it, as QA
sees it (QA reaches the most pages)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from edms.cases.models import Case
from edms.demo import DEMO_PASSWORD
from edms.documents import models as dm
from tests.browser.conftest import browser_sign_in, choose_language
from tests.browser.test_case_walk_browser import demo  # noqa: F401  (demo: fixture)

pytestmark = pytest.mark.browser

WIDTH = 1280

# Each table column's content box and the width of four characters in its font (a CJK character is 1 em wide).
MEASURE = """() => {
  const narrow = [];
  for (const table of document.querySelectorAll('main table')) {
    const row = table.querySelector('thead tr') || table.querySelector('tr');
    if (!row) continue;
    for (const cell of row.children) {
      const style = getComputedStyle(cell);
      const content = cell.getBoundingClientRect().width - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      const four = 4 * parseFloat(style.fontSize);
      if (content + 0.5 < four) {
        narrow.push(`${table.id || 'table'}: "${cell.innerText.trim()}" ${content.toFixed(0)} px < ${four} px`);
      }
    }
  }
  return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth, narrow};
}"""


def main_pages(app) -> list[str]:
    with app.extensions["edms"].sessions() as session:
        cases = list(session.scalars(select(Case.id).order_by(Case.id)))
        document = session.scalar(select(dm.Document.id).order_by(dm.Document.id))
    return ["/", "/tasks/", "/cases/", "/cases/deadlines", *[f"/cases/{case_id}" for case_id in cases],
            "/documents/", f"/documents/{document}", f"/inspection/cases/{cases[0]}",
            f"/inspection/documents/{document}", "/inspection/search", "/audit", "/notifications/",
            "/delegations/", "/signatures/people", "/signatures/readiness"]


@pytest.mark.req("ERES-legibility")
@pytest.mark.parametrize("language", ["en", "ja"])
def test_every_main_page_fits_1280_pixels_without_scrolling_sideways_or_a_column_under_four_characters(
        page, app, demo, language):
    page.set_viewport_size({"width": WIDTH, "height": 900})
    browser_sign_in(page, "akiko.tanaka", DEMO_PASSWORD)
    expect(page.locator("#sign-out")).to_be_visible()
    if language == "ja":
        choose_language(page, "ja")
    problems = []
    for path in main_pages(app):
        response = page.goto(path)
        assert response is not None and response.ok, (path, response and response.status)
        measured = page.evaluate(MEASURE)
        if measured["scroll"] > measured["inner"]:
            problems.append(f"{path}: {measured['scroll']} px wide in a {measured['inner']} px window")
        problems += [f"{path}: {item}" for item in measured["narrow"]]
    assert problems == [], "\n".join(problems)
