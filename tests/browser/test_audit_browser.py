"""An administrator at the browser reads the audit trail, filters it, exports it and has the system verify it."""
import csv
import io

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import browser_sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.mark.req("11.10(e)")
@pytest.mark.req("11.10(a)")
@pytest.mark.req("A11-9")
def test_admin_filters_the_audit_trail_exports_csv_and_sees_it_verified(page, people):
    people.make("kenji.sato", "author", printed_name="Kenji Sato")
    people.make("daisuke.kato", "admin", printed_name="Daisuke Kato")
    browser_sign_in(page, "daisuke.kato", PASSWORD)
    page.click("#nav-audit")
    expect(page.locator("h1")).to_have_text("Audit trail")
    expect(page.locator("#audit-events")).to_contain_text("Signed in")  # the label, never the key auth.signed_in

    page.fill("#f-action", "user.created")
    page.click("#apply-filter")
    actions = page.locator("#audit-events .action")
    expect(actions).to_have_count(2)
    expect(actions.first).to_have_text("Account created")
    expect(actions.first).to_have_attribute("data-action", "user.created")
    expect(page.locator("#audit-events")).to_contain_text("JST (UTC+09:00)")

    with page.expect_download() as download_info:
        page.click("#export-csv")
    download = download_info.value
    assert download.suggested_filename.startswith("audit-trail-") and download.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8-sig").read())))
    assert [row["action"] for row in rows] == ["user.created", "user.created"]
    assert {row["object_id"] for row in rows} == {"1", "2"}

    page.click("#verify-link")
    page.click("#run-verification")
    expect(page.locator("#verification-outcome")).to_contain_text("verified")
    expect(page.locator("#verification-result")).to_contain_text("audit_event")


@pytest.mark.req("11.10(e)")
@pytest.mark.req("11.300(d)")
def test_an_author_refused_the_account_pages_leaves_an_access_refused_entry_the_administrator_reads(page, people):
    people.make("kenji.sato", "author", printed_name="Kenji Sato")
    people.make("daisuke.kato", "admin", printed_name="Daisuke Kato")
    browser_sign_in(page, "kenji.sato", PASSWORD)
    expect(page.locator("#sign-out")).to_be_visible()
    refused = page.goto("/admin/users?role=admin")
    assert refused is not None and refused.status == 403
    page.click("#sign-out")

    browser_sign_in(page, "daisuke.kato", PASSWORD)
    page.click("#nav-audit")
    page.fill("#f-action", "access.refused")
    page.click("#apply-filter")
    row = page.locator("#audit-events tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator(".action")).to_have_text("Access refused")
    expect(row).to_contain_text("GET /admin/users")  # the route
    expect(row).to_contain_text("/admin/users?role=admin")  # the whole path, among the changes
    expect(row).to_contain_text("Kenji Sato")  # who
    expect(row).to_contain_text("requires the role admin")  # why
