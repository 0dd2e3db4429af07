"""Handing work over at the browser (issue #12): an administrator transfers a record's ownership from its page;
before deactivating a treating physician, the administrator sees their open assignments and hands the case to
another physician; a reactivated account signs again only after a second administrator's identity check; a
throttled sign-in shows the normal sign-in page with the explanation in Japanese (PIC/S PI 041 §9.5,
21 CFR 11.100(b), 11.300(d))."""
from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from edms.application import cases
from edms.application.unit_of_work import command
from edms.cases.facts import CaseFacts
from edms.documents import models as dm
from edms.users.models import User
from tests.browser.conftest import browser_sign_in, choose_language
from tests.conftest import PASSWORD
from tests.integration.conftest import signing  # noqa: F401  (fixtures)
from tests.support.people import acting

pytestmark = pytest.mark.browser

HANDOVER = "Kenji Sato is on long-term leave from 1 December; Shota Fujii continues his OOS records."
MOVE = "Dr Ito moves to the Kobe site on 1 December; Dr Suzuki takes over his patients."
ACCOUNT_LIMIT = 3


@pytest.fixture
def app(settings):
    """The app with a small per-account sign-in limit, so that the throttled page is reached quickly."""
    from edms.app import create_app

    app = create_app(dataclasses.replace(settings, login_rate_limit=f"{ACCOUNT_LIMIT} per minute"))
    app.config["TESTING"] = True
    yield app
    app.extensions["edms"].engine.dispose()


def _sign_out(page):
    page.click("#sign-out")


@pytest.mark.req("PICS-9.5")
def test_an_administrator_transfers_the_ownership_of_a_record_from_its_page(page, signing, people, app):
    people.make("shota.fujii", "author", printed_name="Shota Fujii")
    browser_sign_in(page, "daisuke.kato", PASSWORD)
    page.goto(f"/documents/{signing.document_id}")
    expect(page.locator("#document-owner")).to_have_text("Kenji Sato")
    page.click("#transfer-ownership")
    expect(page.locator("h1")).to_contain_text("Transfer the ownership")
    page.select_option("#new-owner", label="Shota Fujii (shota.fujii)")
    page.fill("#transfer-reason", HANDOVER)
    page.click("#transfer")
    expect(page.locator(".flash-success")).to_contain_text("Shota Fujii now owns")
    expect(page.locator("#document-owner")).to_have_text("Shota Fujii")
    _sign_out(page)
    # The former owner no longer sees the way to rewrite it; the new owner does once it is sent back.
    signing.sign(signing.author)
    signing.sign(signing.reviewer, kind="reject", reason="Cite the batch record.")
    browser_sign_in(page, "kenji.sato", PASSWORD)
    page.goto(f"/documents/{signing.document_id}")
    expect(page.locator("#revise-form")).to_have_count(0)
    _sign_out(page)
    browser_sign_in(page, "shota.fujii", PASSWORD)
    page.goto(f"/documents/{signing.document_id}")
    expect(page.locator("#revise-form")).to_be_visible()


def test_deactivation_lists_the_open_assignments_and_the_case_is_handed_to_another_physician(page, people, admin, app):
    physician = people.make("haruto.ito", "physician", printed_name="Dr Haruto Ito")
    people.make("mei.suzuki", "physician", printed_name="Dr Mei Suzuki")
    author = people.make("kenji.sato", "author", printed_name="Kenji Sato")
    services = app.extensions["edms"]
    with command(services.sessions) as session:
        opener = session.get(User, author.id)
        case = cases.open_case(services, session, acting(opener), opener, CaseFacts(
            regime_key="jp_current", product="Tisagenlecleucel-like CAR-T", lot="L2026-0412", patient_ref="PT-7Q4X",
            treating_site="Kansai University Hospital, Department of Hematology", site_timezone="Asia/Tokyo",
            physician_id=physician.id, oos_detected_at=datetime(2026, 11, 20, 9, 30, tzinfo=ZoneInfo("Asia/Tokyo"))))
        reference = case.reference

    browser_sign_in(page, "daisuke.kato", PASSWORD)
    page.click("text=Users")
    page.click("text=haruto.ito")
    page.click("#review-deactivation")
    expect(page.locator("#open-assignments")).to_contain_text("Open assignments of Dr Haruto Ito: 1.")
    expect(page.locator("#assigned-cases")).to_contain_text(reference)
    page.select_option("#assigned-cases select", label="Dr Mei Suzuki")
    page.fill("#assigned-cases input[name=reason]", MOVE)
    page.click("#assigned-cases button")
    expect(page.locator(".flash-success")).to_contain_text(f"Dr Mei Suzuki is now the treating physician of {reference}")
    expect(page.locator("#no-open-assignments")).to_be_visible()
    page.fill("#deactivate-reason", "Moved to another hospital.")
    page.click("#deactivate")
    expect(page.locator("#user-status")).to_contain_text("Deactivated")
    # The case page names the new physician.
    page.goto("/cases/")
    page.click(f"text={reference}")
    expect(page.locator("#case-physician")).to_have_text("Dr Mei Suzuki")


@pytest.mark.req("11.100(b)")
def test_a_reactivated_account_waits_for_a_second_administrators_identity_check(page, signing, app):
    reviewer = signing.reviewer
    browser_sign_in(page, "daisuke.kato", PASSWORD)
    page.goto(f"/admin/users/{reviewer.id}")
    page.click("#review-deactivation")
    page.fill("#deactivate-reason", "Left the company.")
    page.click("#deactivate")
    expect(page.locator("#user-status")).to_contain_text("Deactivated")
    expect(page.locator("#unlock-form")).to_have_count(0)
    page.fill("#reactivate-password", "Temporary-Pass-2026!")
    page.fill("#reactivate-reason", "Rejoined the QA department.")
    page.fill("#reactivate-your-password", PASSWORD)
    page.click("#reactivate")
    expect(page.locator(".flash-success")).to_contain_text("second administrator")
    expect(page.locator("#user-status")).to_contain_text("Active")

    page.goto(f"/signatures/people/{reviewer.id}")
    expect(page.locator("#right-identity")).to_contain_text("not yet recorded")
    page.fill("#method", "In person, photo ID")
    page.fill("#evidence", "Passport checked against the HR record")
    page.click("#record-identity")
    expect(page.locator(".flash-error")).to_contain_text("You reactivated this account")
    _sign_out(page)

    browser_sign_in(page, "emi.suzuki", PASSWORD)
    page.goto(f"/signatures/people/{reviewer.id}")
    page.fill("#method", "In person, photo ID")
    page.fill("#evidence", "Passport checked against the HR record")
    page.click("#record-identity")
    expect(page.locator(".flash-success")).to_contain_text("identity verification is recorded")
    expect(page.locator("#right-identity")).to_contain_text("In person, photo ID")
    with app.extensions["edms"].sessions() as session:
        assert session.get(dm.Document, signing.document_id).owner_id == signing.author.id


def test_a_throttled_sign_in_shows_the_sign_in_page_with_the_explanation_in_japanese(page, people):
    people.make("haruto.ito", "physician", printed_name="Dr Haruto Ito")
    page.goto("/login")
    choose_language(page, "ja")
    for _ in range(ACCOUNT_LIMIT):
        browser_sign_in(page, "haruto.ito", "Wrong-Password-0000")
        expect(page.locator(".flash-error")).to_be_visible()
    browser_sign_in(page, "haruto.ito", "Wrong-Password-0000")
    expect(page.locator("#throttled")).to_contain_text("サインインの失敗が多すぎます")
    expect(page.locator("#login-form")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text(re.compile(r"per 1 minute|Too Many Requests"))
