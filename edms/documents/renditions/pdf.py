"""The PDF rendition: the layout on A4 with embedded fonts, a manifestation never split over two pages,
and a character no font can draw shown as its code point rather than dropped."""
from __future__ import annotations

import contextlib
import dataclasses
import string
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import MethodReturnValue, XPos, YPos
from fpdf.fonts import TTFFont

from edms.documents.renditions.font_subset import characters_of, subset_font_file
from edms.documents.renditions.fonts import find_pdf_fallback_font, find_pdf_font
from edms.documents.renditions.layout import GREY, RED, Layout, every_label, lay_out, text_for
from edms.documents.renditions.model import Rendition
from edms.timeutil import require_aware

_FONT = "edms-body"
_FALLBACK_FONT = "edms-symbols"


class _Pdf(FPDF):
    def __init__(self, layout: Layout, font_path: Path, fallback_path: Path | None, *,
                 compliance: str | None = None, printed: str | None = None) -> None:
        """`printed`: every character the PDF may print; the fonts are then cut down to those before fpdf2 reads
        them (edms.documents.renditions.font_subset), which gives the same bytes as the whole fonts (None)."""
        super().__init__(format="A4", enforce_compliance=compliance)
        self.layout = layout
        self._font_files = contextlib.ExitStack()  # the cut-down fonts, read by fpdf2 until the PDF is output
        self.kept = None if printed is None else frozenset(printed)
        self.add_font(_FONT, fname=str(self._font(font_path)))  # TrueType subsets are embedded in the file
        self.covered = self._characters_of(_FONT, font_path)
        if fallback_path is not None:
            self.add_font(_FALLBACK_FONT, fname=str(self._font(fallback_path)))
            self.set_fallback_fonts([_FALLBACK_FONT])
            self.covered |= self._characters_of(_FALLBACK_FONT, fallback_path)
        self.set_auto_page_break(auto=True, margin=20)
        self.set_margins(18, 18, 18)

    def _font(self, path: Path) -> Path:
        return path if self.kept is None else self._font_files.enter_context(subset_font_file(path, self.kept))

    def output(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().output(*args, **kwargs)
        finally:
            self._font_files.close()

    def legible(self, text: str) -> str:
        # A character no embedded font can draw would silently vanish from the copy; show its code point.
        shown = "".join(c if ord(c) in self.covered or c in "\n\t" else f"[U+{ord(c):04X}]" for c in text)
        if self.kept is not None and not self.kept.issuperset(shown):
            # Printed from a font cut down without it, the character would be drawn as a missing glyph: refuse.
            raise RuntimeError(f"the PDF prints {sorted(set(shown) - self.kept)!r}, not among the characters its "
                               "fonts were cut down to (edms.documents.renditions.pdf.printed)")
        return shown

    def header(self) -> None:
        self.set_font(_FONT, size=8)
        self.set_text_color(*GREY)
        self.cell(0, 5, self.legible(self.layout.header), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(4)
        self.set_text_color(0)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(_FONT, size=8)
        self.set_text_color(*GREY)
        page = self.layout.page.format(page=self.page_no(), pages=self.str_alias_nb_pages)
        self.cell(0, 5, page, align="R")

    def heading(self, text: str, size: float = 13) -> None:
        self.ln(3)
        self.set_font(_FONT, size=size)
        self.multi_cell(0, size * 0.5, self.legible(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)

    def paragraph(self, text: str, size: float = 10, colour: tuple[int, int, int] = (0, 0, 0)) -> None:
        self.set_font(_FONT, size=size)
        self.set_text_color(*colour)
        self.multi_cell(0, size * 0.5, self.legible(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
        self.set_text_color(0)

    def _characters_of(self, name: str, path: Path) -> frozenset[int]:
        if self.kept is not None:  # the cut-down font's cmap has only the characters kept: the whole font's
            return characters_of(path)
        font = self.fonts[name]
        if not isinstance(font, TTFFont):
            raise TypeError(f"the PDF font {name} is not a TrueType font")
        return frozenset(font.cmap)

    def text_height(self, text: str, size: float) -> float:
        self.set_font(_FONT, size=size)
        height = self.multi_cell(0, size * 0.5, self.legible(text), dry_run=True, output=MethodReturnValue.HEIGHT)
        if not isinstance(height, int | float):  # fpdf2 types the result of every `output=` choice as one union
            raise TypeError(f"fpdf2 returned {height!r} for a height")
        return float(height)

    def keep_together(self, height: float) -> None:
        if self.will_page_break(height):
            self.add_page()

    def labelled_height(self, label: str, value: str) -> float:
        return self.text_height(label, 8) + self.text_height(value, 10) + 1.5

    def labelled(self, label: str, value: str, colour: tuple[int, int, int] = (0, 0, 0)) -> None:
        self.keep_together(self.text_height(label, 8) + 5)  # a label never stands alone at the foot of a page
        self.paragraph(label, size=8, colour=GREY)
        self.paragraph(value, colour=colour)
        self.ln(1.5)


def render_pdf(r: Rendition, *, font_path: Path | None = None, whole_font: bool = False) -> bytes:
    return bytes(rendered_pdf(r, font_path=font_path, whole_font=whole_font).output())


def printed(layout: Layout, r: Rendition, also: Sequence[str] = ()) -> str:
    """Every character the rendition's PDF may print (more is harmless): the layout's texts, the title, the fixed
    labels of its language, printable ASCII (page numbers, a code point shown as [U+XXXX]) and `also`."""
    return "".join(set("".join((r.title, string.printable, *every_label(r.language), *also,
                                *_texts(dataclasses.astuple(layout))))))


def _texts(value: object) -> Iterator[str]:
    if isinstance(value, tuple | list):
        for item in value:
            yield from _texts(item)
    elif value is not None:
        yield str(value)


def rendered_pdf(r: Rendition, *, font_path: Path | None = None, compliance: str | None = None,
                 also: Sequence[str] = (), whole_font: bool = False) -> _Pdf:
    """The rendition laid out on its pages, not yet output: the frozen PDF adds its signature page (whose texts
    are `also`). `whole_font`: fpdf2 reads the whole fonts, the reference the cut-down fonts must equal."""
    layout = lay_out(r)
    lang = r.language
    pdf = _Pdf(layout, font_path or find_pdf_font(), find_pdf_fallback_font(), compliance=compliance,
               printed=None if whole_font else printed(layout, r, also))
    pdf.set_title(f"{r.number} {r.title}")
    pdf.set_subject(layout.heading)
    pdf.set_creator("edms")
    pdf.set_lang("ja-JP" if lang == "ja" else "en")
    pdf.set_creation_date(require_aware(r.generated_at))
    pdf.add_page()

    pdf.heading(layout.heading, size=16)
    pdf.paragraph(r.title, size=12)
    pdf.ln(2)
    for label, value in layout.meta:
        pdf.labelled(label, value)
    if layout.revised_note:
        pdf.paragraph(layout.revised_note, colour=RED)

    pdf.heading(text_for(lang, "content"))
    for label, value in layout.fields:
        pdf.labelled(label, value)

    pdf.heading(text_for(lang, "attachments"))
    if not layout.attachments:
        pdf.paragraph(text_for(lang, "no_attachments"))
    for attachment in layout.attachments:
        described = f"{attachment.name} ({attachment.media_type}, {attachment.size} {text_for(lang, 'bytes')})"
        hashed = f"SHA-256 {attachment.sha256}"
        pdf.keep_together(pdf.text_height(described, 10) + pdf.text_height(hashed, 8))  # a file and its hash
        pdf.paragraph(described)
        pdf.paragraph(hashed, size=8)
        pdf.ln(1.5)

    pdf.heading(text_for(lang, "signatures"))
    if not layout.signatures:
        pdf.paragraph(text_for(lang, "no_signatures"))
    for signature in layout.signatures:
        # One manifestation is never split over two pages.
        pdf.keep_together(sum(pdf.labelled_height(label, value) for label, value in signature.rows))
        for label, value in signature.rows:
            invalid = not signature.valid and (label, value) == signature.rows[-1]
            pdf.labelled(label, value, colour=RED if invalid else (0, 0, 0))
        pdf.ln(2)

    if layout.versions:
        pdf.heading(text_for(lang, "history"))
        for version, status, created_at, reason in layout.versions:
            pdf.paragraph(f"{text_for(lang, 'version')} {version} | {status} | {created_at} | {reason}")

    pdf.ln(4)
    pdf.paragraph(layout.stamp, size=8, colour=GREY)
    pdf.paragraph(layout.generated, size=8, colour=GREY)
    return pdf
