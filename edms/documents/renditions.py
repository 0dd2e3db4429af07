"""Human-readable copies of a record: DOCX and PDF (21 CFR 11.10(b), 11.50; EU Annex 11 §8; ER/ES legibility).

A rendition is derived from the stored content and says so: it carries the content hash it was made
from, every field with its label, the attachment hashes, every signature manifestation and the version
history, with the document number, version, status and "Page X of Y" on every page.
"""
from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from docx import Document
from docx.document import Document as DocxDocument
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor
from docx.table import Table
from docx.text.paragraph import Paragraph
from fpdf import FPDF
from fpdf.enums import MethodReturnValue, XPos, YPos

from edms.documents.types import (
    LANGUAGES,
    SIGNATURE_MEANINGS,
    SIGNING_ROLES,
    DocumentType,
    FieldDef,
    LocalizedText,
    canonical_value,
)
from edms.timeutil import format_in_zone, require_aware

PDF_FONT_ENV = "EDMS_PDF_FONT"
PDF_FONT_PACKAGE = "fonts-ipaexfont-gothic"
# Debian/Ubuntu locations of TrueType fonts with Japanese glyphs, in order of preference.
PDF_FONT_CANDIDATES = (
    Path("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"),
    Path("/usr/share/fonts/truetype/fonts-japanese-gothic.ttf"),
    Path("/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf"),
    Path("/usr/share/fonts/truetype/fonts-japanese-mincho.ttf"),
    Path("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"),
    Path("/usr/share/fonts/truetype/takao-gothic/TakaoPGothic.ttf"),
)
# Symbols the Japanese fonts lack (IPAex has no U+2265 "≥", common in specifications) come from here.
PDF_FALLBACK_FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"),
)
# Word substitutes a local font when this one is missing; the language tag makes it pick a Japanese one.
DOCX_EAST_ASIAN_FONT = "Yu Gothic"


_GREY = (90, 90, 90)
_RED = (176, 0, 0)  # an invalid signature must stand out


class FontNotFound(RuntimeError):
    pass


@dataclass(frozen=True)
class RenditionAttachment:
    name: str
    media_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class RenditionSignature:
    printed_name: str
    role: str
    meaning: str
    signed_at: datetime
    display_tz: str
    signature_id: str
    status: str  # "valid" or "INVALID: <reason>", from signature verification
    step: str = ""  # the step's name in the document type; printed with its label
    kind: str = "signature"  # or "rejection": a signed refusal, whose comment is the reason
    comment: str = ""
    on_behalf_of: str = ""  # the absent person and the delegation signed under, already worded

    def __post_init__(self) -> None:
        require_aware(self.signed_at)


@dataclass(frozen=True)
class RenditionVersion:
    version: int
    status: str
    created_at: datetime
    reason: str

    def __post_init__(self) -> None:
        require_aware(self.created_at)


@dataclass(frozen=True)
class Rendition:
    doc_type: DocumentType
    number: str
    title: str
    version: int
    status: str
    content_sha256: str
    values: Mapping[str, object]
    generated_at: datetime
    attachments: Sequence[RenditionAttachment] = ()
    signatures: Sequence[RenditionSignature] = ()
    versions: Sequence[RenditionVersion] = ()
    language: str = "en"
    display_tz: str = "UTC"  # for date-time fields and the generation time

    def __post_init__(self) -> None:
        require_aware(self.generated_at)
        if self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}, not {self.language!r}")


_TEXT: dict[str, tuple[str, str]] = {
    "number": ("Document number", "文書番号"),
    "document_type": ("Document type", "文書の種類"),
    "title": ("Title", "表題"),
    "version": ("Version", "版"),
    "status": ("Status", "状態"),
    "header": ("{number} | Version {version} | Status: {status}", "{number} | 第{version}版 | 状態: {status}"),
    "page": ("Page {page} of {pages}", "{page} / {pages} ページ"),
    "content": ("Record content", "記録内容"),
    "attachments": ("Attachments", "添付ファイル"),
    "no_attachments": ("No attachments", "添付ファイルなし"),
    "file": ("File", "ファイル"),
    "media_type": ("Type", "形式"),
    "size": ("Size (bytes)", "サイズ（バイト）"),
    "bytes": ("bytes", "バイト"),
    "signatures": ("Electronic signatures", "電子署名"),
    "no_signatures": ("No signatures yet", "署名はまだありません"),
    "printed_name": ("Signed by", "署名者"),
    "role": ("Role", "役割"),
    "meaning": ("Meaning", "署名の意味"),
    "signed_at": ("Date and time", "署名日時"),
    "signature_id": ("Signature ID", "署名ID"),
    "step": ("Step", "手順"),
    "comment": ("Comment", "コメント"),
    "on_behalf_of": ("On behalf of", "代理（委任者）"),
    "rejection": ("Refused to sign: {meaning}", "署名拒否: {meaning}"),
    "rejection_reason": ("Reason for refusal", "拒否の理由"),
    "verification": ("Verification", "検証結果"),
    "history": ("Version history", "版の履歴"),
    "created_at": ("Created", "作成日時"),
    "reason": ("Reason", "理由"),
    "current": ("(this version)", "（本版）"),
    "revised": (
        "This record has been revised: this copy shows version {version}. All versions are listed under Version history.",
        "本記録は改訂されています。本書は第{version}版を示します。全ての版は「版の履歴」に記載しています。",
    ),
    "stamp": (
        "Rendered from content SHA-256 {sha256}; this rendition is a derived copy.",
        "コンテンツ SHA-256 {sha256} から生成。本書は派生コピーです。",
    ),
    "generated": ("Generated {time}", "生成日時 {time}"),
    "yes": ("Yes", "はい"),
    "no": ("No", "いいえ"),
    "empty": ("(not entered)", "（未記入）"),
}


@dataclass(frozen=True)
class _Signature:
    rows: list[tuple[str, str]]  # the last row is the verification status
    valid: bool


@dataclass(frozen=True)
class _Layout:
    """What both formats print, already in the chosen language."""

    header: str
    page: str
    heading: str
    meta: list[tuple[str, str]]
    revised_note: str | None
    fields: list[tuple[str, str]]
    attachments: list[RenditionAttachment]
    signatures: list[_Signature]
    versions: list[tuple[str, str, str, str]]
    stamp: str
    generated: str


def _t(language: str, key: str) -> str:
    en, ja = _TEXT[key]
    return ja if language == "ja" else en


def _controlled_label(labels: Mapping[str, LocalizedText], key: str, language: str) -> str:
    return labels[key].text(language) if key in labels else key


def display_field(definition: FieldDef, value: object, language: str, zone: str) -> str:
    """A stored (canonical or clean) value as a person reads it; the same on screen and on paper."""
    if value is None or value == [] or value == "":
        return _t(language, "empty")
    try:
        canonical = canonical_value(definition, value)
    except (ValueError, ArithmeticError):
        return str(value)  # a value that no longer fits its definition is shown as stored, never hidden
    if definition.type == "boolean":
        return _t(language, "yes" if canonical else "no")
    if definition.type in ("choice", "multichoice"):
        items = canonical if isinstance(canonical, list) else [canonical]
        return "; ".join(definition.choice_label(str(item), language) for item in items)
    if definition.type == "document_refs" and isinstance(canonical, list):
        return ", ".join(canonical)
    if definition.type == "datetime":
        try:
            return format_in_zone(datetime.fromisoformat(str(canonical)), zone)
        except ValueError:
            return str(canonical)
    if definition.unit:
        return f"{canonical} {definition.unit}"
    return str(canonical)


def _signature_layout(r: Rendition, s: RenditionSignature) -> _Signature:
    lang = r.language
    meaning = _controlled_label(SIGNATURE_MEANINGS, s.meaning, lang)
    if s.kind == "rejection":
        meaning = _t(lang, "rejection").format(meaning=meaning)
    step = next((step.label.text(lang) for step in r.doc_type.steps if step.name == s.step), s.step)
    rows = [
        (_t(lang, "printed_name"), s.printed_name),
        (_t(lang, "role"), _controlled_label(SIGNING_ROLES, s.role, lang)),
        (_t(lang, "meaning"), meaning),
        (_t(lang, "signed_at"), format_in_zone(s.signed_at, s.display_tz)),
    ]
    if step:
        rows.append((_t(lang, "step"), step))
    if s.on_behalf_of:
        rows.append((_t(lang, "on_behalf_of"), s.on_behalf_of))
    if s.comment:
        rows.append((_t(lang, "rejection_reason" if s.kind == "rejection" else "comment"), s.comment))
    # The verification result stays the last row: both formats mark it when invalid.
    rows += [(_t(lang, "signature_id"), s.signature_id), (_t(lang, "verification"), s.status)]
    return _Signature(rows=rows, valid=s.status == "valid")


def _layout(r: Rendition) -> _Layout:
    lang = r.language
    revised = r.version > 1 or len(r.versions) > 1
    fields = [
        (definition.label.text(lang), display_field(definition, r.values.get(definition.name), lang, r.display_tz))
        for definition in r.doc_type.fields
    ]
    known = {definition.name for definition in r.doc_type.fields}
    # Values the current definition no longer names are still part of the record: print them raw.
    fields += [(name, str(value)) for name, value in r.values.items() if name not in known]
    signatures = [_signature_layout(r, s) for s in r.signatures]
    versions = [
        (
            f"{v.version}{' ' + _t(lang, 'current') if v.version == r.version else ''}",
            v.status,
            format_in_zone(v.created_at, r.display_tz),
            v.reason,
        )
        for v in sorted(r.versions, key=lambda v: v.version)
    ]
    return _Layout(
        header=_t(lang, "header").format(number=r.number, version=r.version, status=r.status),
        page=_t(lang, "page"),
        heading=r.doc_type.name.text(lang),
        meta=[
            (_t(lang, "number"), r.number),
            (_t(lang, "title"), r.title),
            (_t(lang, "document_type"), r.doc_type.name.text(lang)),
            (_t(lang, "version"), str(r.version)),
            (_t(lang, "status"), r.status),
        ],
        revised_note=_t(lang, "revised").format(version=r.version) if revised else None,
        fields=fields,
        attachments=list(r.attachments),
        signatures=signatures,
        versions=versions,
        stamp=_t(lang, "stamp").format(sha256=r.content_sha256),
        generated=_t(lang, "generated").format(time=format_in_zone(r.generated_at, r.display_tz)),
    )


# ---------------------------------------------------------------------------------------------------
# DOCX


def _add_field(paragraph: Paragraph, instruction: str) -> None:
    """A Word field (PAGE, NUMPAGES) computed when the document is laid out. No cached result is
    stored: a stale "1" could otherwise show as the page count in viewers that do not update fields."""
    begin, instr, end = OxmlElement("w:fldChar"), OxmlElement("w:instrText"), OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    end.set(qn("w:fldCharType"), "end")
    for element in (begin, instr, end):
        paragraph.add_run()._r.append(element)


def _add_page_numbers(paragraph: Paragraph, template: str) -> None:
    # The template is "Page {page} of {pages}" or its translation: text around two fields.
    before, rest = template.split("{page}", 1)
    between, after = rest.split("{pages}", 1)
    for text, instruction in ((before, "PAGE"), (between, "NUMPAGES"), (after, None)):
        if text:
            paragraph.add_run(text)
        if instruction:
            _add_field(paragraph, instruction)


def _docx_table(document: DocxDocument, rows: Sequence[Sequence[str]], header: Sequence[str] | None = None) -> Table:
    table = document.add_table(rows=0, cols=len(header or rows[0]))
    table.style = "Table Grid"
    if header:
        for cell, text in zip(table.add_row().cells, header):
            cell.paragraphs[0].add_run(text).bold = True
    for row in rows:
        for cell, text in zip(table.add_row().cells, row):
            cell.text = text  # python-docx turns "\n" into line breaks
    return table


def _docx_language(document: DocxDocument, language: str) -> None:
    """Japanese text needs an East Asian font and language tag, set once in the document defaults."""
    document.styles["Normal"].font.size = Pt(10)
    defaults = document.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    fonts = defaults.find(qn("w:rFonts"))
    fonts.attrib.pop(qn("w:eastAsiaTheme"), None)  # a theme font would take precedence
    fonts.set(qn("w:eastAsia"), DOCX_EAST_ASIAN_FONT)
    lang = defaults.find(qn("w:lang"))
    lang.set(qn("w:val"), "ja-JP" if language == "ja" else "en-GB")
    lang.set(qn("w:eastAsia"), "ja-JP")


def render_docx(r: Rendition) -> bytes:
    layout = _layout(r)
    document = Document()
    _docx_language(document, r.language)
    properties = document.core_properties
    properties.title = f"{r.number} {r.title}"
    properties.identifier = r.number
    properties.version = str(r.version)
    properties.language = r.language
    properties.author = properties.last_modified_by = "edms"
    properties.comments = layout.stamp
    properties.created = properties.modified = require_aware(r.generated_at)
    properties.revision = 1

    section = document.sections[0]
    section.different_first_page_header_footer = False
    section.header.is_linked_to_previous = False
    section.header.paragraphs[0].text = layout.header
    footer = section.footer.paragraphs[0]
    _add_page_numbers(footer, layout.page)

    document.add_heading(layout.heading, level=0)
    _docx_table(document, layout.meta)
    if layout.revised_note:
        document.add_paragraph().add_run(layout.revised_note).bold = True

    document.add_heading(_t(r.language, "content"), level=1)
    _docx_table(document, layout.fields)

    document.add_heading(_t(r.language, "attachments"), level=1)
    if layout.attachments:
        _docx_table(
            document,
            [(a.name, a.media_type, str(a.size), a.sha256) for a in layout.attachments],
            header=[_t(r.language, "file"), _t(r.language, "media_type"), _t(r.language, "size"), "SHA-256"],
        )
    else:
        document.add_paragraph(_t(r.language, "no_attachments"))

    document.add_heading(_t(r.language, "signatures"), level=1)
    if not layout.signatures:
        document.add_paragraph(_t(r.language, "no_signatures"))
    for signature in layout.signatures:
        table = _docx_table(document, signature.rows)
        if not signature.valid:
            for run in table.rows[-1].cells[1].paragraphs[0].runs:
                run.bold = True
                run.font.color.rgb = RGBColor(*_RED)
        document.add_paragraph()

    if layout.versions:
        document.add_heading(_t(r.language, "history"), level=1)
        _docx_table(
            document,
            layout.versions,
            header=[_t(r.language, key) for key in ("version", "status", "created_at", "reason")],
        )

    document.add_paragraph(layout.stamp)
    document.add_paragraph(layout.generated)
    output = io.BytesIO()
    document.save(output)
    return output.getvalue()


# ---------------------------------------------------------------------------------------------------
# PDF


def find_pdf_font(environ: Mapping[str, str] = os.environ) -> Path:
    """The TrueType font embedded in PDFs: $EDMS_PDF_FONT if set (it must exist), else the first
    Debian font with Japanese glyphs that is installed."""
    override = environ.get(PDF_FONT_ENV)
    if override:
        path = Path(override)
        if not path.is_file():
            raise FontNotFound(f"{PDF_FONT_ENV}={override} does not name a font file.")
        return path
    for candidate in PDF_FONT_CANDIDATES:
        if candidate.is_file():
            return candidate
    raise FontNotFound(
        "No Japanese-capable TrueType font for PDF renditions: install the Debian package "
        f"{PDF_FONT_PACKAGE} (apt-get install {PDF_FONT_PACKAGE}) or set {PDF_FONT_ENV} to a .ttf file. "
        f"Looked in: {', '.join(str(path) for path in PDF_FONT_CANDIDATES)}."
    )


_FONT = "edms-body"
_FALLBACK_FONT = "edms-symbols"


class _Pdf(FPDF):
    def __init__(self, layout: _Layout, font_path: Path, fallback_path: Path | None) -> None:
        super().__init__(format="A4")
        self.layout = layout
        self.add_font(_FONT, fname=str(font_path))  # TrueType subsets are embedded in the file
        self.covered = set(self.fonts[_FONT].cmap)
        if fallback_path is not None:
            self.add_font(_FALLBACK_FONT, fname=str(fallback_path))
            self.set_fallback_fonts([_FALLBACK_FONT])
            self.covered |= set(self.fonts[_FALLBACK_FONT].cmap)
        self.set_auto_page_break(auto=True, margin=20)
        self.set_margins(18, 18, 18)

    def legible(self, text: str) -> str:
        # A character no embedded font can draw would silently vanish from the copy; show its code point.
        return "".join(c if ord(c) in self.covered or c in "\n\t" else f"[U+{ord(c):04X}]" for c in text)

    def header(self) -> None:
        self.set_font(_FONT, size=8)
        self.set_text_color(*_GREY)
        self.cell(0, 5, self.legible(self.layout.header), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(4)
        self.set_text_color(0)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(_FONT, size=8)
        self.set_text_color(*_GREY)
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

    def text_height(self, text: str, size: float) -> float:
        self.set_font(_FONT, size=size)
        return float(self.multi_cell(0, size * 0.5, self.legible(text), dry_run=True, output=MethodReturnValue.HEIGHT))

    def keep_together(self, height: float) -> None:
        if self.will_page_break(height):
            self.add_page()

    def labelled_height(self, label: str, value: str) -> float:
        return self.text_height(label, 8) + self.text_height(value, 10) + 1.5

    def labelled(self, label: str, value: str, colour: tuple[int, int, int] = (0, 0, 0)) -> None:
        self.keep_together(self.text_height(label, 8) + 5)  # a label never stands alone at the foot of a page
        self.paragraph(label, size=8, colour=_GREY)
        self.paragraph(value, colour=colour)
        self.ln(1.5)


def find_pdf_fallback_font() -> Path | None:
    return next((path for path in PDF_FALLBACK_FONT_CANDIDATES if path.is_file()), None)


def render_pdf(r: Rendition, *, font_path: Path | None = None) -> bytes:
    layout = _layout(r)
    lang = r.language
    pdf = _Pdf(layout, font_path or find_pdf_font(), find_pdf_fallback_font())
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
        pdf.paragraph(layout.revised_note, colour=_RED)

    pdf.heading(_t(lang, "content"))
    for label, value in layout.fields:
        pdf.labelled(label, value)

    pdf.heading(_t(lang, "attachments"))
    if not layout.attachments:
        pdf.paragraph(_t(lang, "no_attachments"))
    for attachment in layout.attachments:
        described = f"{attachment.name} ({attachment.media_type}, {attachment.size} {_t(lang, 'bytes')})"
        hashed = f"SHA-256 {attachment.sha256}"
        pdf.keep_together(pdf.text_height(described, 10) + pdf.text_height(hashed, 8))  # a file and its hash
        pdf.paragraph(described)
        pdf.paragraph(hashed, size=8)
        pdf.ln(1.5)

    pdf.heading(_t(lang, "signatures"))
    if not layout.signatures:
        pdf.paragraph(_t(lang, "no_signatures"))
    for signature in layout.signatures:
        # One manifestation is never split over two pages.
        pdf.keep_together(sum(pdf.labelled_height(label, value) for label, value in signature.rows))
        for label, value in signature.rows:
            invalid = not signature.valid and (label, value) == signature.rows[-1]
            pdf.labelled(label, value, colour=_RED if invalid else (0, 0, 0))
        pdf.ln(2)

    if layout.versions:
        pdf.heading(_t(lang, "history"))
        for version, status, created_at, reason in layout.versions:
            pdf.paragraph(f"{_t(lang, 'version')} {version} | {status} | {created_at} | {reason}")

    pdf.ln(4)
    pdf.paragraph(layout.stamp, size=8, colour=_GREY)
    pdf.paragraph(layout.generated, size=8, colour=_GREY)
    return bytes(pdf.output())
