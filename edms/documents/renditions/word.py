"""The DOCX rendition: the layout as a Word document, page numbers computed by Word itself."""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from collections.abc import Sequence

from docx import Document
from docx.document import Document as DocxDocument
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor
from docx.table import Table
from docx.text.paragraph import Paragraph

from edms.documents.renditions.layout import RED, lay_out, text_for
from edms.documents.renditions.model import Rendition
from edms.timeutil import require_aware

# Changed whenever render_docx would write other bytes for the same layout: stored DOCX made before are not reused.
DOCX_FORMAT = "edms-docx-1"
# Word substitutes a local font when this one is missing; the language tag makes it pick a Japanese one.
DOCX_EAST_ASIAN_FONT = "Yu Gothic"


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
        for cell, text in zip(table.add_row().cells, header, strict=True):
            cell.paragraphs[0].add_run(text).bold = True
    for row in rows:
        for cell, text in zip(table.add_row().cells, row, strict=False):  # a short row leaves its last cells empty
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


def docx_key(r: Rendition) -> str:
    """The SHA-256 of everything `render_docx` prints of `r` but its generation time: two renditions with the
    same key give the same document (edms.documents.rendition_models keeps them by this key)."""
    printed = dataclasses.asdict(lay_out(r))
    printed.pop("generated")
    printed.update(format=DOCX_FORMAT, number=r.number, title=r.title, version=r.version, language=r.language,
                   display_tz=r.display_tz)
    return hashlib.sha256(json.dumps(printed, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def render_docx(r: Rendition) -> bytes:
    layout = lay_out(r)
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

    document.add_heading(text_for(r.language, "content"), level=1)
    _docx_table(document, layout.fields)

    document.add_heading(text_for(r.language, "attachments"), level=1)
    if layout.attachments:
        _docx_table(
            document,
            [(a.name, a.media_type, str(a.size), a.sha256) for a in layout.attachments],
            header=[text_for(r.language, "file"), text_for(r.language, "media_type"), text_for(r.language, "size"), "SHA-256"],
        )
    else:
        document.add_paragraph(text_for(r.language, "no_attachments"))

    document.add_heading(text_for(r.language, "signatures"), level=1)
    if not layout.signatures:
        document.add_paragraph(text_for(r.language, "no_signatures"))
    for signature in layout.signatures:
        table = _docx_table(document, signature.rows)
        if not signature.valid:
            for run in table.rows[-1].cells[1].paragraphs[0].runs:
                run.bold = True
                run.font.color.rgb = RGBColor(*RED)
        document.add_paragraph()

    if layout.versions:
        document.add_heading(text_for(r.language, "history"), level=1)
        _docx_table(
            document,
            layout.versions,
            header=[text_for(r.language, key) for key in ("version", "status", "created_at", "reason")],
        )

    document.add_paragraph(layout.stamp)
    document.add_paragraph(layout.generated)
    output = io.BytesIO()
    document.save(output)
    return output.getvalue()
