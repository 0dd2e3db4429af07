"""report.pdf writes a paragraph that fits on one line as one cell, measured once (issue 15); a longer one, or
one with a character the font lacks, is still broken into lines by fpdf2 and printed whole."""
from __future__ import annotations

import io

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
