"""report.pdf's font is cut down to the glyphs the report prints before fpdf2 reads it (issue 15): the report is
byte for byte what fpdf2 makes from the whole font, whatever it prints (Japanese, Latin letters, code points
that share a glyph, characters only the fallback font has), and a font replaced on disk is read again."""
from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from edms.documents.renditions import find_pdf_fallback_font, find_pdf_font
from edms.documents.renditions.font_subset import subset_font, subset_font_file
from edms.inspection.report_pdf_writer import _FALLBACK, _Pdf, page_texts

TITLE = "CASE-2026-0001 · 症例"
JAPANESE = "2026-12-07 14:05 JST · seq 7 · 署名 v2 · 品質保証部長 田中 明子 — 出荷規格外の通知（承認済み）"
LATIN = "Zoë Müller-Ångström, Qualitätssicherung: “released” ‘as is’ … 12 € ½ ß"
# U+00A0 and U+0020, and U+3000 beside a halfwidth katakana: code points the font maps to glyphs others share.
SHARED = "a\u00a0b c\u3000ﾃｽﾄ ＡＢＣ"
FALLBACK = "Viability ≥ 70 % at release"


def written(lines: list[tuple[str, float, tuple[int, int, int]]], *, whole_font: bool) -> bytes:
    """A report of these lines (many pages of them), from the cut-down font and edms's own line writer, or from the
    whole font and fpdf2's cell (the reference)."""
    heading = "OOS-2026-0001 · 出荷規格外の通知"
    texts = [page_texts(TITLE), heading, *(text for text, _size, _colour in lines)]

    def make(font: Path | None) -> bytes:
        pdf = _Pdf(TITLE, raw_lines=not whole_font, texts=texts, font=font)
        pdf.set_creation_date(datetime(2026, 12, 7, 5, 30, tzinfo=UTC))
        pdf.add_page()
        pdf.heading(heading, size=16)
        for number in range(60):
            for text, size, colour in lines:
                pdf.line_of(f"{text} {number}", size=size, colour=colour)
        return bytes(pdf.output())

    if whole_font:
        return make(None)
    with subset_font_file(find_pdf_font(), "".join(texts)) as font:
        return make(font)


@pytest.mark.parametrize("lines", [
    pytest.param([(JAPANESE, 8, (0, 0, 0)), ("Signature 7d4c: invalid", 7, (176, 0, 0)), ("", 9, (0, 0, 0))],
                 id="japanese-and-red"),
    pytest.param([(LATIN, 9, (0, 0, 0)), (SHARED, 8, (0, 0, 0))], id="latin-and-shared-glyphs"),
    pytest.param([(JAPANESE, 8, (0, 0, 0)), (FALLBACK, 9, (0, 0, 0))], id="with-the-fallback-font"),
    pytest.param([("0123456789 " * 20, 8, (0, 0, 0))], id="digits-only"),
])
def test_a_report_from_the_cut_down_font_is_byte_for_byte_the_report_from_the_whole_font(lines):
    assert written(lines, whole_font=False) == written(lines, whole_font=True)


def test_the_cut_down_font_holds_the_printed_characters_with_every_code_point_of_their_glyphs_and_no_other_glyph():
    whole = TTFont(str(find_pdf_font()), lazy=True)
    whole_cmap = whole.getBestCmap()
    printed = set(JAPANESE + SHARED) | {"≥"}  # "≥": not in the font, so not in the cut either
    glyphs = {whole_cmap[ord(character)] for character in printed if ord(character) in whole_cmap}
    expected = {code for code, glyph in whole_cmap.items() if glyph in glyphs}
    with subset_font_file(find_pdf_font(), printed) as path:
        cut = TTFont(str(path), lazy=True)
        assert set(cut.getBestCmap()) == expected
        assert {" ", "\u00a0"} <= {chr(code) for code in expected}  # the space's other code point came with it
        assert ord("≥") not in expected
        assert set(cut.getGlyphOrder()) == glyphs | set(whole.getGlyphOrder()[:4])


def test_the_fallback_font_is_still_loaded_exactly_when_the_main_font_lacks_a_printed_character():
    texts = [page_texts(TITLE), JAPANESE]
    with subset_font_file(find_pdf_font(), "".join(texts)) as font:
        assert _FALLBACK not in _Pdf(TITLE, texts=texts, font=font).fonts
    texts.append(FALLBACK)
    with subset_font_file(find_pdf_font(), "".join(texts)) as font:
        assert _FALLBACK in _Pdf(TITLE, texts=texts, font=font).fonts


def test_a_font_replaced_on_disk_is_read_again_not_taken_from_what_this_process_read_before(tmp_path):
    fallback = find_pdf_fallback_font()
    if fallback is None:
        pytest.skip("no second font installed to replace the first with")
    path = tmp_path / "report.ttf"
    shutil.copyfile(find_pdf_font(), path)
    assert ord("≥") not in TTFont(_saved(tmp_path, subset_font(path, "≥ABC")), lazy=True).getBestCmap()
    shutil.copyfile(fallback, path)  # another font at the same path: it has "≥"
    assert ord("≥") in TTFont(_saved(tmp_path, subset_font(path, "≥ABC")), lazy=True).getBestCmap()


def _saved(directory: Path, data: bytes) -> str:
    path = directory / "cut.ttf"
    path.write_bytes(data)
    return str(path)
