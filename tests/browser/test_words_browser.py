"""A Japanese-speaking QA reviewer: sets Japanese once on her settings page, and from then on every page after
sign-in, her notifications and the labels of the records read in Japanese; she finds the case by typing its
reference (issue 12, "Every identifier and word a person reads is theirs")."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from edms.audit import AuditContext
from edms.cases.models import Case
from edms.db import transaction
from edms.notifications.outbox import enqueue
from edms.users.models import User
from edms.wording import both
from tests.browser.conftest import browser_sign_in
from tests.conftest import PASSWORD
from tests.support.inspection import events

pytestmark = pytest.mark.browser


@pytest.mark.req("ERES-legibility")
def test_a_japanese_reader_sees_japanese_throughout_and_finds_the_case_by_its_reference(page, app, signed_case):
    services = app.extensions["edms"]
    with services.sessions() as session:
        reference = session.get(Case, signed_case.case_id).reference

    browser_sign_in(page, "emi.nakamura", PASSWORD)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.click("#nav-settings")
    page.select_option("#language", "ja")
    page.click("#save-settings")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator(".flash-success")).to_contain_text("日本語")
    [changed] = events(app, "user.language_changed")
    assert changed.actor_name == "Emi Nakamura"

    # The message edms sends an owner on approval, written for its reader: in Japanese for her.
    with transaction(services.sessions) as session:
        emi = session.scalar(select(User).where(User.username == "emi.nakamura"))
        record = both("%(number)s version %(version)s (%(title)s)", number=signed_case.numbers[signed_case.documents[0]],
                      version=3, title="OOS")
        enqueue(session, AuditContext.system("document service"), [emi],
                kind="approved", smtp=services.settings.smtp, subject=both("%(record)s is approved.", record=record),
                body=both("Every signing step of %(record)s is complete: the version is approved and effective.",
                          record=record))

    page.click("#sign-out")
    browser_sign_in(page, "emi.nakamura", PASSWORD)  # the setting lasts across sign-ins
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator("#nav-notifications")).to_have_text("自分の通知")
    page.click("#nav-notifications")
    row = page.locator("#notifications-table tr.notification").first
    expect(row).to_contain_text("が承認されました。")
    expect(row).to_contain_text("第3版")

    page.click("#nav-inspection")
    page.fill("#s-case", reference.lower())  # typed as people type it
    page.click("#search-submit")
    expect(page.locator("#search-results tbody tr")).to_have_count(len(signed_case.documents))
    expect(page.locator("#search-results")).to_contain_text("承認済み")  # the status's label, not "approved"
    page.locator("#search-results a.case-link").first.click()
    expect(page.locator("h1")).to_contain_text(reference)
    expect(page.locator("#timeline")).to_contain_text("署名")
    expect(page.locator("#timeline")).not_to_contain_text("signature.signed")

    page.click("#nav-audit")
    page.fill("#f-case-id", reference)
    page.click("#apply-filter")
    expect(page.locator("#audit-events")).to_contain_text(f"案件 {reference}")
    expect(page.locator("#audit-events")).to_contain_text("版の承認")  # document.approved, by its label
    expect(page.locator("#audit-events")).to_contain_text("状態審査中 → 承認済み")
    expect(page.locator("#audit-events")).not_to_contain_text(re.compile(r"\b(document\.approved|in_review)\b"))
