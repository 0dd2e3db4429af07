"""The frozen PDF of a version: the rendition as PDF/A-2b (fonts embedded, no external references), in the
language and time zone of the record's site, with a signature page that holds one empty signature field per
signature its routing needs, and room for further fields (a refusal, an extra signature).

The page is laid out the same way whenever it is asked (`signature_page`), so the signing ceremony finds
the reserved field of a step, or the free place for a new one, from the document type alone.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from edms.crypto.pades import FieldSlot, add_signature_fields
from edms.documents.renditions.layout import GREY
from edms.documents.renditions.model import Rendition
from edms.documents.renditions.pdf import rendered_pdf
from edms.documents.types import SIGNATURE_MEANINGS, SignatureStep
from edms.timeutil import format_in_zone

PDF_A = "PDF/A-2B"
_MM = 72 / 25.4  # PDF points per millimetre
_PAGE_HEIGHT_MM = 297.0
_COLUMNS_MM = (18.0, 108.0)
_BOX_WIDTH_MM, _BOX_HEIGHT_MM, _LABEL_MM, _ROW_MM = 84.0, 26.0, 7.0, 36.0
_FIRST_ROW_MM, _LAST_ROW_MM = 62.0, 242.0

_TEXT: dict[str, tuple[str, str]] = {
    "page": ("Electronic signatures (PAdES)", "電子署名（PAdES）"),
    "note": (
        "Each signature of this version is a PAdES signature in its field on this page, added to this file "
        "after it was frozen at submission; the earlier content is never changed. Any PAdES-capable reader "
        "(Adobe Acrobat, pdfsig, pyHanko) shows whether each signature is valid; the organisation's root "
        "certificate is the trust anchor.",
        "本版の各署名は、提出時に固定された本ファイルに追記された PAdES 署名であり、本ページの各署名欄に表示されます。"
        "既存の内容は変更されません。各署名の有効性は PAdES に対応したソフトウェア（Adobe Acrobat、pdfsig、pyHanko）で"
        "確認できます。信頼の起点は当組織のルート証明書です。",
    ),
    "frozen": ("Frozen at submission: {time}", "提出時に固定: {time}"),
    "further": ("Further signature (refusal or additional signature)", "追加の署名欄（署名拒否など）"),
}


def _text(language: str, key: str) -> str:
    en, ja = _TEXT[key]
    return ja if language == "ja" else en


@dataclass(frozen=True)
class ReservedField:
    step: str
    slot: FieldSlot


@dataclass(frozen=True)
class SignaturePage:
    reserved: list[ReservedField]  # one per signature the routing needs, in step order
    spare: list[FieldSlot]  # free places for fields added at signing (refusals, extra signatures)


def _box(x_mm: float, top_mm: float) -> tuple[int, int, int, int]:
    top = top_mm + _LABEL_MM
    return (round(x_mm * _MM), round((_PAGE_HEIGHT_MM - top - _BOX_HEIGHT_MM) * _MM),
            round((x_mm + _BOX_WIDTH_MM) * _MM), round((_PAGE_HEIGHT_MM - top) * _MM))


def _places() -> list[tuple[float, float]]:
    rows: list[float] = []
    top = _FIRST_ROW_MM
    while top <= _LAST_ROW_MM:
        rows.append(top)
        top += _ROW_MM
    return [(x, y) for y in rows for x in _COLUMNS_MM]


def signature_page(steps: Sequence[SignatureStep]) -> SignaturePage:
    """Where each field of the signature page (the last page) is. A routing with more signatures than the
    page has places gets invisible fields for the rest: a signature is never refused for lack of room."""
    places = _places()
    reserved: list[ReservedField] = []
    for step in steps:
        for index in range(1, step.approvals + 1):
            name = f"{step.name}-{index}"
            if places:
                x, y = places.pop(0)
                box = _box(x, y)
            else:
                box = (0, 0, 0, 0)
            reserved.append(ReservedField(step.name, FieldSlot(name, -1, box)))
    spare = [FieldSlot(f"further-{n}", -1, _box(x, y)) for n, (x, y) in enumerate(places, start=1)]
    return SignaturePage(reserved, spare)


def further_field(page: SignaturePage, taken: set[str]) -> FieldSlot:
    """The first free place for a new field, named after the fields already in the PDF."""
    number = len(taken) + 1
    while f"further-{number}" in taken:
        number += 1
    free = [slot for slot in page.spare if slot.name not in taken]
    box = free[0].box if free else (0, 0, 0, 0)
    return FieldSlot(free[0].name if free else f"further-{number}", -1, box)


def render_frozen_pdf(r: Rendition, steps: Sequence[SignatureStep], frozen_at: datetime, *,
                      font_path: Path | None = None, whole_font: bool = False) -> bytes:
    """The PDF/A-2b frozen at submission, with its signature page and empty signature fields. `whole_font`: fpdf2
    reads the whole fonts (the reference: edms.documents.renditions.pdf)."""
    lang = r.language
    page = signature_page(steps)
    labels = {step.name: step for step in steps}
    reserved = [(field.slot, _step_label(labels[field.step], lang)) for field in page.reserved]
    heading, note, further = _text(lang, "page"), _text(lang, "note"), _text(lang, "further")
    frozen = _text(lang, "frozen").format(time=format_in_zone(frozen_at, r.display_tz))
    pdf = rendered_pdf(r, font_path=font_path, compliance=PDF_A, whole_font=whole_font,
                       also=(heading, note, frozen, further, *(text for _, text in reserved)))
    pdf.add_page()
    pdf.heading(heading, size=14)
    pdf.paragraph(note, size=9)
    pdf.paragraph(frozen, size=8, colour=GREY)
    for slot, text in reserved:
        _label(pdf, slot, text)
    for slot in page.spare:
        _label(pdf, slot, further, colour=GREY)
    return add_signature_fields(bytes(pdf.output()), [field.slot for field in page.reserved])


def _step_label(step: SignatureStep, lang: str) -> str:
    meaning = SIGNATURE_MEANINGS[step.meaning].text(lang) if step.meaning in SIGNATURE_MEANINGS else step.meaning
    return f"{step.label.text(lang)} — {meaning}"


def _label(pdf, slot: FieldSlot, text: str, colour: tuple[int, int, int] = (0, 0, 0)) -> None:
    if slot.box == (0, 0, 0, 0):
        return
    x1, _y1, x2, y2 = (value / _MM for value in slot.box)
    top = _PAGE_HEIGHT_MM - y2 - _LABEL_MM
    pdf.set_font("edms-body", size=8)
    pdf.set_text_color(*colour)
    pdf.set_xy(x1, top + 1)
    pdf.cell(x2 - x1, 5, pdf.legible(text))
    pdf.set_text_color(0)
    pdf.set_draw_color(*GREY)
    pdf.rect(x1, top + _LABEL_MM, x2 - x1, _BOX_HEIGHT_MM)
    pdf.set_draw_color(0)
