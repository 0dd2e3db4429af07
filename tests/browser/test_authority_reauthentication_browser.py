"""Acts that hand over or change authority ask for the person's password again, at the browser as over the API:
a physician delegating her named steps (in Japanese) and an administrator changing someone's roles."""
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import browser_sign_in, choose_language
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.mark.req("11.200(a)(2)-(3)")
def test_a_physician_confirms_a_delegation_with_her_password_and_a_wrong_one_records_nothing(page, people):
    people.make("yuki.mori", "physician", printed_name="森 由紀")
    people.make("lukas.weber", "physician", printed_name="Lukas Weber", timezone="Europe/Berlin")
    browser_sign_in(page, "yuki.mori", PASSWORD)
    choose_language(page, "ja")
    page.click("#nav-delegations")
    expect(page.locator("label[for=confirm-password]")).to_have_text("委任を確認するためのパスワード *")

    def delegate(password: str) -> None:
        page.select_option("#delegate_id", label="Lukas Weber (lukas.weber)")
        page.fill("#starts_at", "2026-12-20T09:00")
        page.fill("#ends_at", "2026-12-31T18:00")
        page.fill("#reason", "年次休暇")
        page.fill("#confirm-password", password)
        page.click("#delegate")

    delegate("Not-The-Password-1")
    expect(page.locator(".flash-error")).to_contain_text("パスワードが正しくありません")
    expect(page.locator("#delegations-table tr.delegation")).to_have_count(0)

    delegate(PASSWORD)
    expect(page.locator(".flash-success")).to_be_visible()
    rows = page.locator("#delegations-table tr.delegation")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Lukas Weber")
    expect(rows.first).to_contain_text("年次休暇")


@pytest.mark.req("A11-12")
def test_an_administrator_confirms_a_role_change_with_his_password_and_a_wrong_one_changes_nothing(page, people):
    person = people.make("kenji.sato", "author", printed_name="Kenji Sato")
    people.make("daisuke.kato", "admin", printed_name="Daisuke Kato")
    browser_sign_in(page, "daisuke.kato", PASSWORD)
    page.goto(f"/admin/users/{person.id}")

    def add_qa(password: str) -> None:
        roles_form = page.locator("form[action$='/roles']")
        roles_form.locator("input[name=roles][value=qa]").check()
        roles_form.locator("textarea[name=reason]").fill("Moves to batch release review")
        roles_form.locator("#roles-your-password").fill(password)
        roles_form.locator("button[type=submit]").click()

    add_qa("Not-The-Password-1")
    expect(page.locator(".flash-error")).to_contain_text("Your password is not correct: nothing was changed.")
    page.goto(f"/admin/users/{person.id}")
    expect(page.locator("dd .badge")).to_have_count(1)

    add_qa(PASSWORD)
    expect(page.locator(".flash-success")).to_be_visible()
    page.goto(f"/admin/users/{person.id}")
    expect(page.locator("dd .badge")).to_have_count(2)
