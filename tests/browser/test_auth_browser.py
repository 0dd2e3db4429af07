"""A person at the browser: sign in, wrong password, lockout, forced change, idle timeout, admin, Japanese."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import browser_sign_in, choose_language
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.mark.req("11.10(d)")
def test_sign_in_shows_the_home_page_and_sign_out_returns_to_sign_in(page, people):
    people.make("kenji.sato", "author", printed_name="Kenji Sato")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))
    browser_sign_in(page, "kenji.sato", PASSWORD)
    expect(page.locator("h1")).to_contain_text("Welcome, Kenji Sato")
    page.click("#sign-out")
    expect(page.locator(".flash")).to_contain_text("signed out")


@pytest.mark.req("11.300(d)")
def test_wrong_password_then_lockout(page, people):
    people.make("kenji.sato", "author")
    browser_sign_in(page, "kenji.sato", "Not-The-Password-1")
    expect(page.locator(".flash-error")).to_contain_text("not correct")
    for _ in range(4):
        browser_sign_in(page, "kenji.sato", "Not-The-Password-1")
    expect(page.locator(".flash-error")).to_contain_text("locked")
    browser_sign_in(page, "kenji.sato", PASSWORD)
    expect(page.locator(".flash-error")).to_contain_text("locked")


@pytest.mark.req("11.300(a)-(b)")
def test_forced_password_change_at_first_sign_in(page, people):
    people.make("kenji.sato", "author", must_change_password=True)
    browser_sign_in(page, "kenji.sato", PASSWORD)
    expect(page.locator("#forced-change")).to_be_visible()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/account/password"))
    page.fill("#current_password", PASSWORD)
    page.fill("#new_password", "Brand-New-Secret-77")
    page.fill("#confirm_password", "Brand-New-Secret-77")
    page.click("#save-password")
    expect(page.locator(".flash-success")).to_contain_text("changed")
    expect(page.locator("h1")).to_contain_text("Welcome")


@pytest.mark.req("11.10(d)")
def test_idle_session_ends(page, people, app):
    people.make("kenji.sato", "author")
    browser_sign_in(page, "kenji.sato", PASSWORD)
    expect(page.locator("h1")).to_contain_text("Welcome")
    settings = app.extensions["edms"].settings
    app.extensions["edms"].settings = type(settings)(**{**settings.__dict__, "idle_minutes": 0.01})
    page.wait_for_timeout(1200)
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator(".flash-warning")).to_contain_text("inactivity")


@pytest.mark.req("A11-12")
def test_admin_creates_a_user_in_the_browser(page, people, admin):
    browser_sign_in(page, "daisuke.kato", PASSWORD)
    page.click("text=Users")
    page.click("#new-user")
    page.fill("#username", "emi.nakamura")
    page.fill("#printed_name", "Emi Nakamura")
    page.fill("#title", "QA Specialist")
    page.select_option("#timezone", "Asia/Tokyo")
    page.check("input[name=roles][value=qa]")
    page.fill("#password", "Initial-Pass-2026!")
    page.click("#create-user")
    expect(page.locator(".flash-success")).to_contain_text("emi.nakamura")
    expect(page.locator("#user-status")).to_contain_text("Active")


@pytest.mark.req("ERES-legibility")
def test_language_switch_to_japanese(page, people):
    people.make("kenji.sato", "author", printed_name="Kenji Sato")
    page.goto("/login")
    choose_language(page, "ja")
    expect(page.locator("h1")).to_have_text("サインイン")
    browser_sign_in(page, "kenji.sato", PASSWORD)
    expect(page.locator("h1")).to_contain_text("ようこそ")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
