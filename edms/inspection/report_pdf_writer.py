"""Writing report.pdf (edms.inspection.report lays out what it says): fpdf2 with the rendition font, a paragraph
broken into lines by edms where every character is in the font, and each such line written as the text
operators fpdf2's cell writes (issue 15: fpdf2's per-line machinery was most of report.pdf's time)."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import TTFFont

from edms.documents.renditions import find_pdf_fallback_font, find_pdf_font

_FONT, _FALLBACK = "report-body", "report-symbols"
_RED = (176, 0, 0)

# A line written as one cell must fit in this share of the width (the rest is broken into lines by fpdf2).
_FIT = 0.97


def page_texts(title: str) -> str:
    """What the header and footer of every page print (the page numbers and their total in digits)."""
    return f"edms inspection package · {title} Page 0123456789 of"


class _Pdf(FPDF):
    def __init__(self, title: str, *, raw_lines: bool = True, texts: Iterable[str] | None = None,
                 font: Path | None = None) -> None:
        """`texts`: everything the document will print, when known: the fallback font is then loaded (and
        embedded) only if one of its characters is missing from the main font. `font`: the main font cut down
        to those characters (edms.documents.renditions.font_subset), else the whole font."""
        super().__init__(format="A4")
        self.title_text = title
        self.raw_lines = raw_lines  # False: every line through fpdf2's cell (the reference the tests compare with)
        self.add_font(_FONT, fname=str(font or find_pdf_font()))
        # Per font: the characters it has, and the code each printed character was given in the PDF's subset.
        self._in_font: dict[str, frozenset[str]] = {}
        self._codes: dict[str, dict[str, str]] = {}
        fallback = find_pdf_fallback_font()
        if texts is not None and self._characters(self.fonts[_FONT]).issuperset("".join((page_texts(title), *texts))):
            fallback = None
        if fallback is not None:
            self.add_font(_FALLBACK, fname=str(fallback))
            self.set_fallback_fonts([_FALLBACK])
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(15, 15, 15)

    def _characters(self, font) -> frozenset[str]:
        """The characters `font` has (none for a font without a cmap), listed once per font."""
        key = getattr(font, "fontkey", "")
        if key not in self._in_font:
            self._in_font[key] = frozenset(map(chr, getattr(font, "cmap", None) or ()))
        return self._in_font[key]

    def header(self) -> None:
        self.set_font(_FONT, size=8)
        self.set_text_color(90)
        self.cell(0, 5, f"edms inspection package · {self.title_text}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)
        self.set_text_color(0)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(_FONT, size=8)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")

    def heading(self, text: str, size: float = 13) -> None:
        self.ln(2)
        self.set_font(_FONT, size=size)
        self._text(text, size * 0.5)
        self.ln(1)

    def line_of(self, text: str, size: float = 9, colour: tuple[int, int, int] = (0, 0, 0)) -> None:
        self.set_font(_FONT, size=size)
        self.set_text_color(*colour)
        self._text(text, size * 0.5)
        self.set_text_color(0)

    def _text(self, text: str, height: float) -> None:
        """A paragraph. fpdf2's line breaking re-measures a line for every character it adds (most of
        report.pdf's time, issue 15): a paragraph in the font's own characters is measured here, once per
        word, broken at spaces and written a cell per line. One with a character the font lacks (its fallback
        may be wider), or a word wider than the page, is left to fpdf2."""
        cw = getattr(self.current_font, "cw", None)
        lines = _break(text, cw, self._characters(self.current_font), self.font_size_pt * 0.001 / self.k,
                       _FIT * (self.epw - 2 * self.c_margin))
        if lines is None:
            self.multi_cell(0, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            return
        # Every character is in the font: fpdf2 need not look for a fallback character by character (nor does
        # the header of a page begun here).
        fallback, self._fallback_font_ids = self._fallback_font_ids, []
        try:
            for line in lines:
                if self.raw_lines:
                    self._line(line, height)
                else:
                    self.cell(0, height, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        finally:
            self._fallback_font_ids = fallback

    def _line(self, line: str, height: float) -> None:
        """A line in the font's own characters, written as the very text operators fpdf2's `cell(0, height, line,
        new_x=XPos.LMARGIN, new_y=YPos.NEXT)` writes (left-aligned, no border, fill, link or shaping; a page break
        first where it would make one), without its per-line fragment machinery, ~1 ms a line and most of
        report.pdf's time (issue 15). The tests compare the bytes of both ways."""
        self._perform_page_break_if_need_be(height)
        font = self.current_font
        assert isinstance(font, TTFFont)  # `_break` found every character in its cmap
        if line:
            if not self.current_font_is_set_on_page:
                self._out(self._set_font_for_page(font, self.font_size_pt))
            k = self.k
            parts = [f"BT {(self.x + self.c_margin) * k:.2f} "
                     f"{(self.h - self.y - 0.5 * height - 0.3 * self.font_size) * k:.2f} Td"]
            colour = self.text_color
            coloured = colour != self.fill_color
            if colour is not None and coloured:
                parts.append(colour.serialize().lower())
            # fpdf2 gives each character its code in the subset the first time it is printed (in order), and the
            # same code ever after: asked once per character, in the order of first appearance.
            codes = self._codes.setdefault(font.fontkey, {})
            for character in dict.fromkeys(line):
                if character not in codes:
                    code = font.subset.pick(ord(character))
                    codes[character] = chr(code) if code else ""
            parts.append(f"({font.escape_text(''.join(map(codes.__getitem__, line)))}) Tj")
            parts.append("ET")
            text = " ".join(parts)
            self._out(f"q {text} Q" if coloured else text)
        self._lasth = height
        self.x = self.l_margin
        self.y += height


def _break(text: str, widths, in_font: frozenset[str], scale: float, room: float) -> list[str] | None:
    """`text` broken at spaces into lines no wider than `room` (each character's width from `widths`, times
    `scale`); None when fpdf2 must break it (a newline, a character not `in_font`, a word wider than `room`)."""
    if widths is None or not in_font or "\n" in text or not in_font.issuperset(text):
        return None
    space = widths[ord(" ")] * scale
    lines: list[str] = []
    current: list[str] = []
    used = 0.0
    for word in text.split(" "):
        width = sum(map(widths.__getitem__, map(ord, word))) * scale
        if width > room:
            return None
        if current and used + space + width > room:
            lines.append(" ".join(current))
            current, used = [word], width
        else:
            used += (space if current else 0.0) + width
            current.append(word)
    lines.append(" ".join(current))
    return lines



class _Script:
    """report.pdf's headings and lines, in order, before they are written."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, float, tuple[int, int, int]]] = []

    def heading(self, text: str, size: float = 13) -> None:
        self.calls.append(("heading", text, size, (0, 0, 0)))

    def line_of(self, text: str, size: float = 9, colour: tuple[int, int, int] = (0, 0, 0)) -> None:
        self.calls.append(("line", text, size, colour))
