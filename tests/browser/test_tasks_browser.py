"""A QA reviewer finds the OOS notification waiting for their review under Tasks and reaches its signing page."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import browser_sign_in
from tests.conftest import PASSWORD
from tests.integration.conftest import signing  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_a_qa_reviewer_opens_the_task_and_reaches_the_signing_page(page, signing):
    signing.sign(signing.author)
    browser_sign_in(page, "akiko.tanaka", PASSWORD)
    expect(page.locator("#home-tasks")).to_contain_text("1 task")
    page.click("#nav-tasks")
    task = page.locator("#tasks-table tr.task-sign")
    expect(task).to_have_count(1)
    expect(task).to_contain_text("Reviewed by QA")
    task.locator("a.task-link").click()
    expect(page).to_have_url(re.compile(rf"/documents/{signing.document_id}/versions/1/sign\?step=qa_review$"))
    expect(page.locator("#what-is-signed")).to_contain_text("Reviewed by QA")
