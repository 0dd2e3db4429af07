"""A QC author at the browser: writes the OOS notification for lot L2026-0412 with its certificate of
analysis, submits it, revises it with a reason, compares the versions and downloads the PDF; the same
pages in Japanese (21 CFR 11.10(b), (e); EU Annex 11 §8, §9; ER/ES legibility)."""
from __future__ import annotations

import io
import re

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from tests.browser.conftest import browser_sign_in, choose_language
from tests.conftest import PASSWORD
from tests.support.documents import PDF_BYTES, ensure_signers, sha256
from tests.support.examples import VALUES

pytestmark = pytest.mark.browser


def fill_oos_notification(page, oos_type) -> None:
    page.fill("#title", "Viability OOS, lot L2026-0412 (PT-7Q4X)")
    for field in oos_type.fields:
        value = VALUES["oos_notification"][field.name]
        if field.type == "boolean":
            page.select_option(f"#field_{field.name}", "yes" if value else "no")
        elif field.type == "choice":
            page.select_option(f"#field_{field.name}", value)
        else:
            page.fill(f"#field_{field.name}", value)


@pytest.mark.req("11.10(e)")
@pytest.mark.req("A11-9")
@pytest.mark.req("A11-8")
@pytest.mark.req("11.10(b)")
def test_an_author_writes_submits_revises_and_compares_an_oos_notification_and_downloads_the_pdf(app, page, people):
    people.make("kenji.sato", "author", printed_name="Kenji Sato")
    oos_type = app.extensions["edms"].document_types["oos_notification"]
    ensure_signers(people, oos_type)  # a submission nobody ready could sign would be refused
    browser_sign_in(page, "kenji.sato", PASSWORD)
    page.click("#nav-documents")
    page.click("#new-oos_notification")
    fill_oos_notification(page, oos_type)
    page.click("#save-document")
    expect(page.locator(".flash-success")).to_contain_text("created as a draft")
    number = page.locator("#document-number").inner_text()
    assert re.fullmatch(r"OOS-\d{4}-\d{4}", number)

    page.set_input_files("#file", files=[{"name": "CoA L2026-0412.pdf", "mimeType": "application/pdf",
                                          "buffer": PDF_BYTES}])
    page.click("#upload")
    expect(page.locator(".flash-success")).to_contain_text("File attached")
    expect(page.locator("#attachments-table")).to_contain_text(sha256(PDF_BYTES))

    page.click("#submit-document")
    expect(page.locator(".flash-success")).to_contain_text("frozen")
    expect(page.locator("#version-status")).to_contain_text("In review")
    first_hash = page.locator("#content-hash").inner_text()
    expect(page.locator("#edit-draft")).to_have_count(0)

    page.fill("#revise-reason", "Retest on the retained sample reported (71.4 %)")
    page.click("#revise")
    expect(page.locator(".flash-success")).to_contain_text("new draft version")
    expect(page.locator("#version-number")).to_contain_text("2")
    expect(page.locator("#version-reason")).to_contain_text("Retest on the retained sample")
    page.click("#edit-draft")
    page.fill("#field_investigation_summary", "Phase I and II investigation: no assignable laboratory error; "
                                              "the retest on the retained sample gave 71.4 %.")
    page.click("#save-document")
    expect(page.locator(".flash-success")).to_contain_text("Draft saved")

    page.click("#compare-versions")
    diff = page.locator("#diff-table")
    expect(diff).to_contain_text("Investigation summary")
    expect(diff.locator("td.old")).to_contain_text("the retest confirmed 72.0 % viability")
    expect(diff.locator("td.new")).to_contain_text("the retest on the retained sample gave 71.4 %")
    expect(page.locator("body")).to_contain_text("Retest on the retained sample reported")

    page.goto(page.url.split("/diff")[0] + "/versions/1")
    expect(page.locator("#content-hash")).to_have_text(first_hash)  # the first version, as it was submitted
    with page.expect_download() as download_info:
        page.click("#download-pdf")
    download = download_info.value
    assert download.suggested_filename == f"{number}-v1.pdf"
    with open(download.path(), "rb") as stored:
        text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(stored.read())).pages)
    assert f"{number} | Version 1 | Status: Superseded" in text
    assert sha256(PDF_BYTES) in text and "This record has been revised" in text


@pytest.mark.req("ERES-legibility")
def test_the_document_pages_show_japanese_labels_when_the_language_is_japanese(app, page, people):
    people.make("kenji.sato", "author", printed_name="Kenji Sato")
    oos_type = app.extensions["edms"].document_types["oos_notification"]
    browser_sign_in(page, "kenji.sato", PASSWORD)
    page.click("#nav-documents")
    choose_language(page, "ja")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    page.click("#new-oos_notification")
    expect(page.locator("h1")).to_contain_text("規格外（OOS）通知書")
    expect(page.locator("label[for=field_lot]")).to_contain_text("ロット番号")
    fill_oos_notification(page, oos_type)
    page.click("#save-document")
    expect(page.locator("#fields-table")).to_contain_text("細胞生存率")  # the choice, by its Japanese label
    expect(page.locator("#fields-table")).to_contain_text("製造販売業者の推奨事項")
