"""Routing never dead-ends silently, at the browser (issue 12): QA's approver has left the company, so the OOS
notification Kenji Sato wrote and Akiko Tanaka reviewed can no longer be approved. The administrator finds
it on the "Stuck records" page with what would unblock it, Kenji sees it in his inbox, and his next OOS
notification is refused at submission with the reason and who is missing; in English and Japanese."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from edms.application import accounts
from edms.application.unit_of_work import command
from edms.users.models import User
from tests.browser.conftest import browser_sign_in, choose_language
from tests.conftest import PASSWORD
from tests.integration.signing_fixtures import SigningStory, context

pytestmark = pytest.mark.browser


@pytest.fixture
def stuck(app, people, organisation_pki):
    """The OOS notification prepared and reviewed; its only possible approver deactivated."""
    services = app.extensions["edms"]
    story = SigningStory(services.settings, services.sessions, services.document_types, people).cast()
    story.sign(story.author)
    story.sign(story.reviewer)
    with command(services.sessions) as session:
        admin = session.get(User, story.admin.id)
        accounts.deactivate(services, session, context(admin), session.get(User, story.approver.id),
                            "Left the company on 30 November")
    return story


def sign_out(page):
    page.click("#sign-out")
    page.wait_for_url("**/login**")


@pytest.mark.req("11.10(g)")
def test_the_administrator_and_the_owner_see_the_stuck_record_and_a_submission_nobody_could_complete_is_refused(
        page, stuck):
    number = stuck.document().number

    browser_sign_in(page, "daisuke.kato", PASSWORD)
    page.click("#nav-stuck-records")
    table = page.locator("#stuck-records")
    expect(table).to_contain_text(number)
    expect(table).to_contain_text("Nobody active and ready now can sign the step Approved by QA")
    expect(table).to_contain_text("Hiroshi Yamamoto: the account is deactivated")
    expect(table.locator(".advice-grant")).to_contain_text("Grant the role Quality assurance to another person")
    choose_language(page, "ja")
    expect(page.locator("h1")).to_have_text("滞留している記録")
    expect(table).to_contain_text("アカウントが無効化されています")
    expect(table.locator(".advice-grant")).to_contain_text("品質保証の役割を付与")
    choose_language(page, "en")
    sign_out(page)

    browser_sign_in(page, "kenji.sato", PASSWORD)
    page.click("#nav-tasks")
    mine = page.locator("#my-stuck-records")
    expect(mine).to_contain_text(number)
    expect(mine).to_contain_text("Hiroshi Yamamoto: the account is deactivated")
    choose_language(page, "ja")
    expect(mine).to_contain_text("完了できないご自身の記録")
    expect(mine).to_contain_text("Hiroshi Yamamoto：アカウントが無効化されています")
    choose_language(page, "en")
    page.click(f"#my-stuck-records a:has-text('{number}')")
    expect(page.locator("#routing-stuck")).to_contain_text("This version cannot be completed")

    draft = stuck.new_oos(submitted=False)
    page.goto(f"/documents/{draft.id}")
    page.click("#submit-document")
    refusal = page.locator(".flash-error")
    expect(refusal).to_contain_text("This version cannot be submitted")
    expect(refusal).to_contain_text("Hiroshi Yamamoto")
    expect(page.locator("#edit-draft")).to_be_visible()  # still a draft
    choose_language(page, "ja")
    page.click("#submit-document")
    expect(page.locator(".flash-error")).to_contain_text("この版は提出できません")
    expect(page.locator(".flash-error")).to_contain_text("品質保証")
