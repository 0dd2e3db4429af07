"""Human-readable copies of a record: DOCX and PDF (21 CFR 11.10(b), 11.50; EU Annex 11 §8; ER/ES legibility).

A rendition is derived from the stored content and says so: it carries the content hash it was made
from, every field with its label, the attachment hashes, every signature manifestation and the version
history, with the document number, version, status and "Page X of Y" on every page.

- `model`: what a rendition is made from; `layout`: what both formats print, in the reader's language;
- `word`: the DOCX file; `pdf`: the PDF file; `fonts`: the fonts a PDF embeds.
"""
from edms.documents.renditions.fonts import (
    FontNotFound,
    find_pdf_fallback_font,
    find_pdf_font,
)
from edms.documents.renditions.layout import PRINTED_LABELS, display_field
from edms.documents.renditions.model import (
    Rendition,
    RenditionAttachment,
    RenditionSignature,
    RenditionVersion,
)
from edms.documents.renditions.pdf import render_pdf
from edms.documents.renditions.word import render_docx

# PRINTED_LABELS is here for inspection/package.py, which subsets the PDF font to the characters of this
# module's values: every label a rendition prints must be reachable from this namespace.
__all__ = [
    "PRINTED_LABELS",
    "FontNotFound",
    "Rendition",
    "RenditionAttachment",
    "RenditionSignature",
    "RenditionVersion",
    "display_field",
    "find_pdf_fallback_font",
    "find_pdf_font",
    "render_docx",
    "render_pdf",
]
