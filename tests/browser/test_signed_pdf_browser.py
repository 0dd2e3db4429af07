"""An inspector at the browser opens the signed PDF of a signed version from the case timeline, reads the
validation result of each signature (intact, trusted, time-stamp, LTV) and downloads the PDF, which pyHanko
validates; in English and in Japanese. The download is in the audit trail."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from edms.crypto.pades_validation import validate_signed_pdf
from edms.documents.models import DocumentVersion
from edms.pki import PkiStore
from edms.pki.store import ROOT
from edms.signatures.models import Signature
from tests.browser.conftest import browser_sign_in, choose_language
from tests.conftest import PASSWORD
from tests.support.inspection import INSPECTOR, events, inspector  # noqa: F401

pytestmark = pytest.mark.browser


def _signature_count(app, document_id: int, number: int) -> int:
    with app.extensions["edms"].sessions() as session:
        version = session.scalar(select(DocumentVersion).where(DocumentVersion.document_id == document_id,
                                                               DocumentVersion.version == number))
        return len(session.scalars(select(Signature).where(Signature.version_id == version.id)).all())


@pytest.mark.req("ERES-e-signature")
@pytest.mark.req("ERES-preservation")
@pytest.mark.parametrize("language", ["en", "ja"])
def test_inspector_reads_each_pdf_signature_validation_and_downloads_the_signed_pdf(page, app, signed_case,
                                                                                     inspector, tmp_path, language):
    oos = signed_case.documents[0]
    browser_sign_in(page, INSPECTOR[0], PASSWORD)
    if language == "ja":
        choose_language(page, "ja")
    page.goto(f"/inspection/cases/{signed_case.case_id}")
    page.locator(f'a.signed-pdf-link[href="/documents/{oos}/versions/3/signed-pdf"]').click()
    expect(page.locator("h1")).to_contain_text("署名済み PDF" if language == "ja" else "Signed PDF")
    rows = page.locator("#pdf-signatures tbody tr")
    expected = _signature_count(app, oos, 3) + 1  # each PAdES signature and the approved version's document time-stamp
    expect(rows).to_have_count(expected)
    expect(page.locator("#pdf-signatures tbody tr.valid")).to_have_count(expected)
    expect(rows.first.locator("td.ltv")).to_have_text("はい" if language == "ja" else "yes")
    expect(rows.first.locator("td.timestamp")).not_to_have_text("none")
    # When the validation shown was made, with the zone, and for how long it is kept.
    when = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z]+ \(UTC[+-]\d\d:\d\d\)"
    expect(page.locator("#checked-at")).to_have_text(re.compile(
        f"^{when} に検証しました。検証結果は 5 分間保持" if language == "ja"
        else f"^Checked at {when}; a check is kept for 5 minutes"))

    with page.expect_download() as download_info:
        page.click("#download-signed-pdf")
    saved = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(saved)
    root = PkiStore.for_settings(app.extensions["edms"].settings).certificate(ROOT)
    assert all(check.ok for check in validate_signed_pdf(saved.read_bytes(), [root]))
    downloaded = events(app, "inspection.downloaded", actor_name=INSPECTOR[1])
    assert any(f"/documents/{oos}/versions/3/signed.pdf" in (event.changes or "") for event in downloaded)
