"""Printed copies are complete and legible: every page says which record, version and status it
belongs to and which page it is; fields, attachment hashes and signature manifestations are all
there, in English or Japanese (21 CFR 11.10(b), 11.50(a); EU Annex 11 §8; ER/ES legibility)."""
from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from docx import Document
from pypdf import PdfReader

from edms.documents.renditions import (
    FontNotFound,
    Rendition,
    RenditionAttachment,
    RenditionSignature,
    RenditionVersion,
    display_field,
    find_pdf_font,
    fonts,
    render_docx,
    render_pdf,
)
from edms.documents.types import DocumentType, load_document_types
from tests.support.examples import VALUES

FORMS = Path(__file__).resolve().parents[3] / "forms"
UTC = UTC

COA_SHA = "9f2c4e1b7a0d3c5e8f6a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6a7"
FLOW_SHA = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6"
CONTENT_SHA = "5d41402abc4b2a76b9719d911017c592ae2f1d0e8c9b7a6f5e4d3c2b1a09f8e7"

INVESTIGATION = " ".join(
    [
        "Phase I laboratory investigation: analyst, instrument (FACSLyric FL-03, calibrated 2026-11-02),",
        "7-AAD reagent lot and gating template were checked; no assignable laboratory error was found.",
        "The retest on the retained sample gave 71.4 %, confirming the original result.",
    ]
    * 25
)  # long enough to run over several pages
RISK_JA = "生存率72%は規格（80%以上）を下回るが、生存率61〜79%の規格外ロットでも適合ロットと同様の転帰が報告されている。" * 12


@pytest.fixture(scope="module")
def oos_type() -> DocumentType:
    return load_document_types(FORMS)["oos_notification"]


@pytest.fixture(scope="module")
def record(oos_type: DocumentType) -> Rendition:
    values = oos_type.validate(
        dict(
            VALUES["oos_notification"],
            investigation_summary=INVESTIGATION,
            risk_assessment=RISK_JA,
            recommendation="Supply is acceptable if the treating physician judges that there is no alternative.",
        )
    )
    assert values.ok, values.errors
    return Rendition(
        doc_type=oos_type,
        number="OOS-2026-0007",
        title="Viability OOS, lot L2026-0412",
        version=2,
        status="approved",
        content_sha256=CONTENT_SHA,
        values=oos_type.canonical(values.values),  # renditions are made from stored content
        generated_at=datetime(2026, 11, 26, 0, 15, 0, tzinfo=UTC),
        display_tz="Asia/Tokyo",
        attachments=[
            RenditionAttachment("CoA L2026-0412.pdf", "application/pdf", 48213, COA_SHA),
            RenditionAttachment("viability_retest.csv", "text/csv", 412, FLOW_SHA),
        ],
        signatures=[
            RenditionSignature(
                "Kenji Tanaka", "author", "authored", datetime(2026, 11, 25, 3, 40, 11, tzinfo=UTC), "Asia/Tokyo",
                "SIG-2026-000141", "valid",
            ),
            RenditionSignature(
                "Hanako Sato", "qa", "reviewed", datetime(2026, 11, 25, 12, 6, 2, tzinfo=UTC), "Asia/Tokyo",
                "SIG-2026-000142", "valid",
            ),
            RenditionSignature(
                "Emily Clarke", "qa", "approved", datetime(2026, 11, 25, 14, 30, 0, tzinfo=UTC), "Europe/London",
                "SIG-2026-000143", "INVALID: certificate revoked before signing",
            ),
        ],
        versions=[
            RenditionVersion(1, "superseded", datetime(2026, 11, 21, 1, 0, tzinfo=UTC), "Initial issue"),
            RenditionVersion(2, "approved", datetime(2026, 11, 24, 2, 30, tzinfo=UTC), "Result corrected to reported precision"),
        ],
        language="en",
    )


@pytest.fixture(scope="module")
def record_ja(record: Rendition) -> Rendition:
    return Rendition(**{**record.__dict__, "language": "ja"})


@pytest.fixture(scope="module")
def unsigned(record: Rendition) -> Rendition:
    return Rendition(**{**record.__dict__, "version": 1, "status": "draft", "attachments": [], "signatures": [], "versions": []})


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def flat(text: str) -> str:
    """Text with line wrapping undone, so wrapped values can be searched for."""
    return re.sub(r"\s+", " ", text)


def pdf_body(data: bytes) -> str:
    """All pages without their header and footer lines, wrapping undone."""
    return flat(" ".join("\n".join(page.splitlines()[1:-1]) for page in pdf_pages(data)))


def docx_text(data: bytes) -> str:
    document = Document(io.BytesIO(data))
    parts = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        parts += [cell.text for row in table.rows for cell in row.cells]
    return "\n".join(parts)


@pytest.fixture(scope="module")
def pdf_en(record: Rendition) -> bytes:
    return render_pdf(record)


@pytest.fixture(scope="module")
def pdf_ja(record_ja: Rendition) -> bytes:
    return render_pdf(record_ja)


@pytest.fixture(scope="module")
def docx_en(record: Rendition) -> bytes:
    return render_docx(record)


# ---------------------------------------------------------------------------------------------------
# PDF


@pytest.mark.req("11.10(b)")
@pytest.mark.req("ERES-legibility")
def test_every_pdf_page_shows_number_version_status_and_page_x_of_y(pdf_en):
    pages = pdf_pages(pdf_en)
    assert len(pages) >= 2
    for index, text in enumerate(pages, start=1):
        assert "OOS-2026-0007 | Version 2 | Status: Approved" in text
        assert f"Page {index} of {len(pages)}" in text


@pytest.mark.req("11.10(b)")
def test_pdf_shows_every_field_with_its_label(pdf_en, oos_type):
    text = pdf_body(pdf_en)
    for field in oos_type.fields:
        assert field.label.en in text, field.name
    for value in (
        "tisagenlecleucel (CTL019)", "L2026-0412", "PT-7Q4X", "2026-11-20", "Cell viability",
        "Flow cytometry, 7-AAD exclusion (SOP QC-112)", "≥ 80 %", "72.0",
    ):
        assert value in text
    assert "Is the failed test a safety test (sterility, endotoxin, mycoplasma)? No" in text


@pytest.mark.req("ERES-legibility")
def test_long_text_wraps_without_losing_any_of_it(pdf_en):
    text = pdf_body(pdf_en)
    assert INVESTIGATION in text
    assert RISK_JA in text.replace(" ", "")


@pytest.mark.req("11.10(b)")
def test_pdf_lists_attachments_with_their_sha256(pdf_en):
    text = pdf_body(pdf_en)
    assert "CoA L2026-0412.pdf (application/pdf, 48213 bytes)" in text
    assert f"SHA-256 {COA_SHA}" in text and f"SHA-256 {FLOW_SHA}" in text


@pytest.mark.req("11.50(a)")
def test_pdf_signature_manifestation_has_name_role_meaning_zoned_time_and_id(pdf_en):
    text = pdf_body(pdf_en)
    assert "Signed by Hanako Sato Role Quality assurance Meaning Reviewed" in text
    assert "Date and time 2026-11-25 21:06:02 JST (UTC+09:00)" in text
    assert "Signature ID SIG-2026-000142" in text
    assert "Kenji Tanaka Role Author (manufacturing / QC) Meaning Authored" in text
    assert "2026-11-25 12:40:11 JST (UTC+09:00)" in text
    assert "Emily Clarke" in text and "2026-11-25 14:30:00 GMT (UTC+00:00)" in text
    assert "Verification INVALID: certificate revoked before signing" in text


@pytest.mark.req("11.10(b)")
def test_pdf_is_stamped_as_a_copy_derived_from_the_content_hash(pdf_en):
    text = flat(pdf_pages(pdf_en)[-1])
    assert f"Rendered from content SHA-256 {CONTENT_SHA}; this rendition is a derived copy." in text
    assert "Generated 2026-11-26 09:15:00 JST (UTC+09:00)" in text


@pytest.mark.req("A11-8")
def test_print_of_a_revised_record_says_so_and_lists_its_versions(pdf_en, docx_en):
    for text in (pdf_body(pdf_en), flat(docx_text(docx_en))):
        assert "This record has been revised: this copy shows version 2." in text
        assert "Version history" in text
        assert "Superseded" in text and "Initial issue" in text
        assert "2026-11-21 10:00:00 JST (UTC+09:00)" in text
        assert "Result corrected to reported precision" in text


@pytest.mark.req("ERES-legibility")
def test_pdf_embeds_its_fonts(pdf_en):
    fonts = PdfReader(io.BytesIO(pdf_en)).pages[0]["/Resources"]["/Font"]
    assert fonts
    for reference in fonts.values():
        descendant = reference.get_object()["/DescendantFonts"][0].get_object()
        assert "/FontFile2" in descendant["/FontDescriptor"].get_object()  # TrueType program inside the PDF


@pytest.mark.req("ERES-legibility")
@pytest.mark.req("11.50(a)")
def test_japanese_pdf_has_japanese_labels_headings_and_meanings(pdf_ja):
    pages = pdf_pages(pdf_ja)
    text = flat(" ".join("\n".join(page.splitlines()[1:-1]) for page in pages))
    for label in ("規格外（OOS）通知書", "ロット番号", "患者識別コード（仮名化）", "試験結果", "細胞生存率", "いいえ"):
        assert label in text
    for heading in ("記録内容", "添付ファイル", "電子署名", "版の履歴", "本記録は改訂されています"):
        assert heading in text
    assert "署名者 Hanako Sato 役割 品質保証 署名の意味 照査" in text
    assert "署名の意味 承認" in text and "署名の意味 作成" in text
    for index, page in enumerate(pages, start=1):
        assert "OOS-2026-0007 | 第2版 | 状態: 承認済み" in page
        assert f"{index} / {len(pages)} ページ" in page


def test_unsigned_record_says_so(unsigned):
    for text in (pdf_body(render_pdf(unsigned)), flat(docx_text(render_docx(unsigned)))):
        assert "No signatures yet" in text
        assert "No attachments" in text
        assert "has been revised" not in text


# ---------------------------------------------------------------------------------------------------
# DOCX


@pytest.mark.req("11.10(b)")
@pytest.mark.req("ERES-legibility")
def test_docx_header_and_footer_on_every_page_carry_identity_and_page_x_of_y(docx_en):
    document = Document(io.BytesIO(docx_en))
    for section in document.sections:
        assert not section.different_first_page_header_footer  # one header for all pages
        assert section.header.paragraphs[0].text == "OOS-2026-0007 | Version 2 | Status: Approved"
        footer = section.footer.paragraphs[0]
        instructions = [node.text.strip() for node in footer._p.iter() if node.tag.endswith("}instrText")]
        assert instructions == ["PAGE", "NUMPAGES"]
        assert footer.text == "Page  of "  # the two numbers are Word fields, computed per page


@pytest.mark.req("11.10(b)")
def test_docx_has_fields_attachments_and_stamp(docx_en, oos_type):
    text = docx_text(docx_en)
    for field in oos_type.fields:
        assert field.label.en in text
    for value in ("L2026-0412", "PT-7Q4X", "≥ 80 %", "72.0", "Cell viability", INVESTIGATION, RISK_JA):
        assert value in text
    assert COA_SHA in text and FLOW_SHA in text and "CoA L2026-0412.pdf" in text
    assert f"Rendered from content SHA-256 {CONTENT_SHA}; this rendition is a derived copy." in text
    assert "Generated 2026-11-26 09:15:00 JST (UTC+09:00)" in text


@pytest.mark.req("11.50(a)")
def test_docx_signature_manifestation(docx_en):
    text = docx_text(docx_en)
    for expected in (
        "Hanako Sato", "Quality assurance", "Reviewed", "2026-11-25 21:06:02 JST (UTC+09:00)", "SIG-2026-000142",
        "Emily Clarke", "Approved", "2026-11-25 14:30:00 GMT (UTC+00:00)", "INVALID: certificate revoked before signing",
    ):
        assert expected in text


def test_docx_properties_identify_the_record(docx_en):
    properties = Document(io.BytesIO(docx_en)).core_properties
    assert properties.identifier == "OOS-2026-0007" and properties.version == "2"
    assert properties.author == "edms"
    assert properties.created == datetime(2026, 11, 26, 0, 15, 0, tzinfo=UTC)


@pytest.mark.req("ERES-legibility")
def test_japanese_docx(record_ja):
    data = render_docx(record_ja)
    document = Document(io.BytesIO(data))
    text = docx_text(data)
    for expected in ("ロット番号", "記録内容", "電子署名", "照査", "承認", "品質保証", "コンテンツ SHA-256"):
        assert expected in text
    assert document.sections[0].header.paragraphs[0].text == "OOS-2026-0007 | 第2版 | 状態: 承認済み"
    assert document.sections[0].footer.paragraphs[0].text == " /  ページ"


# ---------------------------------------------------------------------------------------------------
# Inputs and fonts


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="naive"):
        RenditionSignature("Hanako Sato", "qa", "reviewed", datetime(2026, 11, 25, 21, 6), "Asia/Tokyo", "SIG-1", "valid")


def test_unknown_language_is_refused(record):
    with pytest.raises(ValueError, match="language"):
        Rendition(**{**record.__dict__, "language": "de"})


def test_font_override_must_exist(tmp_path):
    with pytest.raises(FontNotFound, match="EDMS_PDF_FONT="):
        find_pdf_font({"EDMS_PDF_FONT": str(tmp_path / "missing.ttf")})


def test_missing_japanese_font_names_the_debian_package(monkeypatch, tmp_path):
    monkeypatch.setattr(fonts, "PDF_FONT_CANDIDATES", (tmp_path / "ipaexg.ttf",))
    with pytest.raises(FontNotFound, match="install the Debian package fonts-ipaexfont-gothic"):
        find_pdf_font({})


def test_font_override_is_used(monkeypatch):
    default = find_pdf_font({})
    assert find_pdf_font({"EDMS_PDF_FONT": str(default)}) == default


def test_values_read_the_same_on_screen_as_on_paper(oos_type):
    result, safety, tested = oos_type.field("result"), oos_type.field("safety_test"), oos_type.field("test")
    assert display_field(result, "72.0", "en", "UTC") == "72.0"
    assert display_field(safety, True, "ja", "UTC") == "はい"
    assert display_field(tested, "viability", "ja", "UTC") == "細胞生存率"
    assert display_field(tested, None, "ja", "UTC") == "（未記入）"
    reg = load_document_types(FORMS)["regulatory_notification"]
    assert display_field(reg.field("notified_at"), "2026-11-25T12:06:02.000000Z", "en", "Asia/Tokyo") == (
        "2026-11-25 21:06:02 JST (UTC+09:00)"
    )
