"""report.pdf writes a paragraph that fits on one line as one cell, measured once (issue 15); a longer one, or
one with a character the font lacks, is still broken into lines by fpdf2 and printed whole."""
from __future__ import annotations

import io
from datetime import UTC, datetime

from pypdf import PdfReader

from edms.inspection.report import _Pdf


def text_of(pdf: _Pdf) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(bytes(pdf.output()))).pages)


def test_short_long_and_fallback_lines_are_all_printed_whole_and_in_order():
    pdf = _Pdf("CASE-2026-0001")
    pdf.add_page()
    short = "2026-12-07 03:05 JST · seq 42 · Version approved v2 · QA Manager"
    long = " ".join(f"word{number}" for number in range(120))
    fallback = "Viability ≥ 70 % at release"
    for text in (short, long, fallback):
        pdf.line_of(text, size=8)
    printed = " ".join(text_of(pdf).split())
    assert short in printed
    assert all(f"word{number}" in printed for number in range(120))
    assert printed.index(short) < printed.index("word0") < printed.index("word119") < printed.index("Viability")
    assert "70 % at release" in printed


def test_a_line_that_fits_moves_down_exactly_one_line_as_before():
    pdf = _Pdf("CASE-2026-0001")
    pdf.add_page()
    top = pdf.get_y()
    pdf.line_of("Signature 7d4c: valid", size=8)
    assert pdf.get_y() == top + 4


def written(raw_lines: bool) -> bytes:
    """A report's worth of lines (sizes, colours, Japanese, an empty reason, a character from the fallback font,
    page breaks with the header's own font between them), through one way of writing a line."""
    pdf = _Pdf("CASE-2026-0001 · 症例", raw_lines=raw_lines)
    pdf.set_creation_date(datetime(2026, 12, 7, 5, 30, tzinfo=UTC))
    pdf.add_page()
    pdf.heading("OOS-2026-0001 · 出荷規格外の通知", size=16)
    for number in range(160):
        if number % 40 == 0:
            pdf.heading(f"Version {number} (承認済み)", size=11)
        pdf.line_of(f"2026-12-07 14:{number % 60:02d} JST · seq {number} · 署名 v2 · 品質保証部長 田中 明子", size=8)
        pdf.line_of(f"Signature 7d4c{number}: invalid", size=7 + number % 3, colour=(200, 0, 0))
        pdf.line_of("")
        if number % 50 == 0:
            pdf.line_of("Viability ≥ 70 % at release")
    return bytes(pdf.output())


def test_lines_written_as_raw_text_operators_are_byte_for_byte_what_fpdf2s_cell_writes():
    fast, reference = written(raw_lines=True), written(raw_lines=False)
    assert len(PdfReader(io.BytesIO(reference)).pages) > 3
    assert fast == reference


def test_the_fallback_font_is_loaded_only_when_a_printed_character_is_missing_from_the_main_font():
    from edms.inspection.report_pdf_writer import _FALLBACK

    assert _FALLBACK not in _Pdf("CASE-2026-0001", texts=["承認済み · Signature 7d4c: valid"]).fonts
    assert _FALLBACK in _Pdf("CASE-2026-0001", texts=["Viability ≥ 70 % at release"]).fonts
    assert _FALLBACK in _Pdf("CASE-2026-0001").fonts  # what it prints not known: always there
