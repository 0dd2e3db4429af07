"""An inspector at the browser: finds the case by its lot number, reads its signed history, opens a signed
version as it was signed, takes the package away; every step is in the audit trail."""
from __future__ import annotations

import hashlib
import json
import re

import pytest
from playwright.sync_api import expect

from edms.verifier.package import verify_package
from tests.browser.conftest import browser_sign_in, choose_language
from tests.conftest import PASSWORD
from tests.support.inspection import INSPECTOR, events, inspector  # noqa: F401
from tests.support.signed_case import LOT, REFUSAL

pytestmark = pytest.mark.browser


@pytest.mark.req("11.10(e)")
@pytest.mark.req("11.10(b)")
@pytest.mark.req("11.50(a)")
@pytest.mark.req("A11-12")
def test_inspector_finds_the_case_by_lot_reads_its_history_and_takes_the_package_away(page, app, signed_case,
                                                                                       inspector, tmp_path, job_worker):
    oos = signed_case.documents[0]
    browser_sign_in(page, INSPECTOR[0], PASSWORD)
    page.click("#nav-inspection")
    page.fill("#s-lot", LOT)
    page.click("#search-submit")
    expect(page.locator("#search-results tbody tr")).to_have_count(len(signed_case.documents))
    page.locator("#search-results a.case-link").first.click()
    expect(page.locator("h1")).to_contain_text(re.compile(r"Case CASE-\d{4}-\d{4}"))  # named by its reference
    expect(page.locator("#timeline")).to_contain_text(REFUSAL)
    expect(page.locator("#timeline .verification .status-valid").first).to_be_visible()

    page.click(f'#case-documents a[href="/documents/{oos}/versions/2"]')
    expect(page.locator("#version-number")).to_contain_text("2")
    expect(page.locator("#manifestations")).to_contain_text("Hiroshi Yamada")
    expect(page.locator("#sign-version")).to_have_count(0)
    page.go_back()

    page.click("#export-package")  # queues the package: its job's page follows the background worker
    expect(page.locator("#job-download")).to_be_visible(timeout=180_000)
    with page.expect_download(timeout=180_000) as download_info:
        page.click("#job-download")
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert re.fullmatch(r"edms-inspection-case-\d+-\d{8}T\d{6}Z\.zip", saved.name)
    report = verify_package(saved)
    assert report.ok, [item.line() for item in report.failures]

    viewed = [json.loads(event.changes)["path"]["new"] for event in events(app, "inspection.viewed", actor_name=INSPECTOR[1])]
    assert any(path.startswith("/inspection/search?") and f"lot={LOT}" in path for path in viewed)
    assert f"/inspection/cases/{signed_case.case_id}" in viewed
    assert f"/documents/{oos}/versions/2" in viewed
    (downloaded,) = events(app, "inspection.downloaded", actor_name=INSPECTOR[1])
    assert json.loads(downloaded.changes)["file"]["new"]["sha256"] == hashlib.sha256(saved.read_bytes()).hexdigest()
    (exported,) = events(app, "inspection.exported", actor_name=INSPECTOR[1])
    assert exported.object_id == str(signed_case.case_id)


@pytest.mark.parametrize("language", ["en", "ja"])
def test_regulatory_affairs_reads_the_inspection_menu_without_the_audit_pages_it_may_not_open(page, people,
                                                                                             inspector, language):
    people.make("rina.ogawa", "regulatory", printed_name="Rina Ogawa")
    browser_sign_in(page, "rina.ogawa", PASSWORD)
    choose_language(page, language)
    page.click("#nav-inspection")
    expect(page.locator("#subnav-search")).to_be_visible()
    expect(page.locator("#subnav-audit")).to_have_count(0)
    expect(page.locator("#subnav-verify-system")).to_have_count(0)
    page.context.clear_cookies()  # signed out
    browser_sign_in(page, INSPECTOR[0], PASSWORD)  # an inspector's menu still leads to both
    page.click("#nav-inspection")
    page.click("#subnav-audit")
    expect(page.locator("#audit-filter")).to_be_visible()
