"""A QA reviewer opens My notifications from the navigation and reads what edms told them."""
import re

import pytest
from playwright.sync_api import expect

from edms.audit import AuditContext
from edms.db import transaction
from edms.notifications.outbox import enqueue
from edms.users.models import User
from tests.browser.conftest import browser_sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_a_reviewer_opens_my_notifications_and_reads_the_one_waiting(app, page, people):
    services = app.extensions["edms"]
    reviewer = people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    colleague = people.make("hiroshi.yamamoto", "qa")
    with transaction(services.sessions) as session:
        service = AuditContext.system("document service")
        enqueue(session, service, [session.get(User, reviewer.id)], subject="OOS-2026-0001 awaits your review",
                body="Kenji Sato submitted OOS-2026-0001 version 1.", kind="task", smtp=services.settings.smtp)
        enqueue(session, service, [session.get(User, colleague.id)], subject="OOS-2026-0002 was approved",
                body="", kind="approved", smtp=services.settings.smtp)
    browser_sign_in(page, "akiko.tanaka", PASSWORD)
    page.click("#nav-notifications")
    expect(page).to_have_url(re.compile(r"/notifications/$"))
    rows = page.locator("#notifications-table tr.notification")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("OOS-2026-0001 awaits your review")
    expect(rows.first).to_contain_text("Kenji Sato submitted OOS-2026-0001 version 1.")
    expect(rows.first).to_contain_text("Recorded (no e-mail)")
