"""A record's PDF renditions are made from fonts cut down to the characters they print (issue 15), and are byte
for byte what fpdf2 makes from the whole fonts: the printable copy and the PDF/A frozen at submission, in English
and Japanese, with characters only the fallback font has, characters no font has (shown as their code point),
code points that share a glyph and text over several pages. A character printed that the cut-down fonts lack
is refused, never drawn as a missing glyph."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fpdf.fonts import TTFFont

from edms.documents.renditions import Rendition, find_pdf_fallback_font, find_pdf_font, render_pdf
from edms.documents.renditions.font_subset import characters_of
from edms.documents.renditions.frozen import render_frozen_pdf
from edms.documents.renditions.layout import lay_out
from edms.documents.renditions.pdf import _Pdf
from tests.unit.documents.test_renditions import oos_type, record, record_ja, unsigned  # noqa: F401

FROZEN_AT = datetime(2026, 11, 24, 2, 31, 5, tzinfo=UTC)
# Characters only DejaVu has (≥, ≤, µ in a formula), none has (a private-use code point, a symbol of plane 1),
# code points IPAex maps to glyphs others share (U+00A0, U+3000, half- and fullwidth forms), and Latin letters.
HARD = "≥ 80 % ≤ 5 µg/mL · \U000F0041 🧪 · a\u00a0b c\u3000ﾃｽﾄ ＡＢＣ · Zoë Ångström “OOS” … ½ ß · 品質保証部長 田中"


def _hard(r: Rendition) -> Rendition:
    values = {**r.values, "risk_assessment": f"{HARD}\n" * 60}  # several pages
    return Rendition(**{**r.__dict__, "title": f"{r.title} {HARD}", "values": values})


@pytest.mark.req("11.10(b)")
@pytest.mark.parametrize(("fixture", "hard"), [
    ("record", False), ("record_ja", False), ("unsigned", False), ("record", True), ("record_ja", True)])
def test_a_rendition_from_the_cut_down_fonts_is_byte_for_byte_the_rendition_from_the_whole_fonts(
        request, fixture, hard):
    r = request.getfixturevalue(fixture)
    r = _hard(r) if hard else r
    assert render_pdf(r) == render_pdf(r, whole_font=True)


def _without_moment(pdf: bytes) -> bytes:
    """The frozen PDF less what differs between any two renderings of it: the moment it was written (its XMP and
    /ModDate times) and the file IDs fpdf2 and pyHanko derive from it."""
    pdf = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+\-Z0-9:]*", b"T", pdf)
    pdf = re.sub(rb"D:\d{14}[^)>]*", b"D", pdf)
    return re.sub(rb"/ID ?\[[^\]]*\]", b"/ID []", pdf)  # fpdf2's (a hash over the moment too) and pyHanko's


@pytest.mark.req("11.10(b)")
@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_frozen_pdf_from_the_cut_down_fonts_is_byte_for_byte_the_one_from_the_whole_fonts(
        record, oos_type, language):  # noqa: F811
    r = _hard(Rendition(**{**record.__dict__, "language": language, "signatures": [], "status": "in_review"}))
    whole = [render_frozen_pdf(r, oos_type.steps, FROZEN_AT, whole_font=True) for _ in range(2)]
    assert _without_moment(whole[0]) == _without_moment(whole[1])  # only the moment and ID differ between two
    cut_down = render_frozen_pdf(r, oos_type.steps, FROZEN_AT)
    assert len(cut_down) == len(whole[0])
    assert _without_moment(cut_down) == _without_moment(whole[0])


@pytest.mark.parametrize("path", [find_pdf_font(), find_pdf_fallback_font()], ids=["main", "fallback"])
def test_the_characters_a_whole_font_has_are_those_fpdf2_reads_from_it(path: Path):
    pdf = _Pdf(lay_out(_any_rendition()), path, None, printed=None)
    font = pdf.fonts["edms-body"]
    assert isinstance(font, TTFFont)
    assert characters_of(path) == frozenset(font.cmap)


def test_a_character_printed_that_the_cut_down_fonts_lack_is_refused(record):  # noqa: F811
    pdf = _Pdf(lay_out(record), find_pdf_font(), find_pdf_fallback_font(), printed="abc")
    assert pdf.legible("cab") == "cab"
    with pytest.raises(RuntimeError, match="not among the characters"):
        pdf.legible("abd")


def _any_rendition() -> Rendition:
    from edms.documents.types import load_document_types
    from tests.unit.documents.test_renditions import FORMS

    doc_type = load_document_types(FORMS)["oos_notification"]
    return Rendition(doc_type=doc_type, number="OOS-2026-0001", title="t", version=1, status="draft",
                     content_sha256="0" * 64, values={}, generated_at=datetime(2026, 12, 7, tzinfo=UTC),
                     display_tz="UTC", attachments=[], signatures=[], versions=[], language="en")
