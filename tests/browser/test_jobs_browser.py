"""An inspector at the browser starts an inspection package, which the server's background worker builds:
the page returns at once to the job's page, which follows its progress and then offers the download; the
package opens and verifies. In English and in Japanese."""
from __future__ import annotations

import re
import zipfile

import pytest
from playwright.sync_api import expect

from edms.verifier.package import verify_package
from tests.browser.conftest import browser_sign_in, choose_language
from tests.conftest import PASSWORD
from tests.support.inspection import INSPECTOR, events, inspector  # noqa: F401

pytestmark = pytest.mark.browser

WORDS = {
    "en": {"nav": "My jobs", "download": "Download the package", "kind": "Inspection package", "done": "Done"},
    "ja": {"nav": "自分のジョブ", "download": "パッケージをダウンロード", "kind": "査察パッケージ", "done": "完了"},
}


@pytest.mark.req("11.10(b)")
@pytest.mark.parametrize("language", ["en", "ja"])
def test_an_export_runs_as_a_job_whose_page_shows_progress_and_then_the_download(page, app, signed_case, inspector,
                                                                                  tmp_path, job_worker, language):
    words = WORDS[language]
    document_id = signed_case.documents[0]
    browser_sign_in(page, INSPECTOR[0], PASSWORD)
    if language != "en":
        choose_language(page, language)
    page.goto(f"/inspection/documents/{document_id}")
    page.click("#export-package")
    expect(page).to_have_url(re.compile(r"/jobs/\d+$"))  # at once: the package is built by the worker
    expect(page.locator("h1")).to_contain_text(words["kind"])
    expect(page.locator("#job-progress, #job-download").first).to_be_visible()
    expect(page.locator("#job-download")).to_be_visible(timeout=180_000)
    expect(page.locator("#job-download")).to_have_text(words["download"])
    expect(page.locator("#job-status")).to_have_text(words["done"])
    with page.expect_download(timeout=60_000) as download_info:
        page.click("#job-download")
    saved = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(saved)
    with zipfile.ZipFile(saved) as package:
        assert "manifest.json" in package.namelist() and "report.pdf" in package.namelist()
    report = verify_package(saved)
    assert report.ok, [item.line() for item in report.failures]

    page.click("#nav-jobs")
    expect(page.locator("h1")).to_have_text(words["nav"])
    expect(page.locator("#jobs-table tbody tr")).to_have_count(1)
    expect(page.locator("#jobs-table")).to_contain_text(words["kind"])
    (exported,) = events(app, "inspection.exported", actor_name=INSPECTOR[1])
    assert exported.object_id == str(document_id)
