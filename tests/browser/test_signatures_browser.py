"""A QA reviewer at the browser signs an OOS notification: opens it, reads what is signed, re-enters the
credentials on a page (no inline script: the Content-Security-Policy forbids it), and sees the
manifestation; a wrong password shows an error and signs nothing (21 CFR 11.50, 11.200(a)(1), 11.300(d))."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import browser_sign_in
from tests.conftest import PASSWORD
from tests.integration.conftest import signing  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


@pytest.mark.req("11.200(a)(1)", "11.50(a)", "ERES-e-signature")
def test_a_qa_reviewer_signs_with_the_password_dialog_and_sees_the_manifestation(page, signing):
    signing.sign(signing.author)
    browser_sign_in(page, "akiko.tanaka", PASSWORD)
    page.goto(f"/documents/{signing.document_id}")
    expect(page.locator("#version-status")).to_contain_text("In review")
    expect(page.locator("#step-qa_review")).to_contain_text("due now")
    page.click("#sign-version")
    expect(page).to_have_url(re.compile(r"/versions/1/sign\?step=qa_review$"))
    what = page.locator("#what-is-signed")
    expect(what).to_contain_text(signing.document().latest.content_sha256)
    expect(what).to_contain_text("Reviewed by QA")
    expect(page.locator("#signed-meaning")).to_have_text("Reviewed")
    expect(page.locator("#signed-fields")).to_contain_text("L2026-0412")
    page.fill("#username", "akiko.tanaka")
    page.fill("#password", PASSWORD)
    page.fill("#comment", "Investigation summary and risk assessment reviewed.")
    page.click("#confirm-signature")
    expect(page.locator(".flash-success")).to_contain_text("Signed")
    mine = page.locator("#manifestations li").nth(1)
    expect(mine).to_contain_text("Akiko Tanaka (akiko.tanaka)")
    expect(mine.locator(".meaning")).to_have_text("Reviewed")
    expect(mine.locator(".signed-at")).to_contain_text("JST (UTC+09:00)")
    expect(mine.locator(".verification")).to_contain_text("valid")
    expect(page.locator("#step-qa_approval")).to_contain_text("due now")
    expect(page.locator("#sign-version")).to_have_count(0)  # one person, one step of this version


@pytest.mark.req("11.300(d)", "11.200(a)(1)")
def test_a_wrong_password_shows_an_error_and_signs_nothing(page, signing):
    signing.sign(signing.author)
    browser_sign_in(page, "akiko.tanaka", PASSWORD)
    page.goto(f"/documents/{signing.document_id}/versions/1/sign")
    page.fill("#username", "akiko.tanaka")
    page.fill("#password", "Not-The-Password-1")
    page.click("#confirm-signature")
    expect(page.locator(".flash-error")).to_contain_text("nothing was signed")
    expect(page.locator("#password")).to_have_value("")
    page.goto(f"/documents/{signing.document_id}")
    expect(page.locator("#manifestations li")).to_have_count(1)
    expect(page.locator("#step-qa_review")).to_contain_text("due now")
