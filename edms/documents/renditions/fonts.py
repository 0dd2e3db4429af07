"""The fonts a PDF rendition embeds: one with Japanese glyphs (required), one for the symbols it lacks."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

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


class FontNotFound(RuntimeError):
    pass


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


def find_pdf_fallback_font() -> Path | None:
    return next((path for path in PDF_FALLBACK_FONT_CANDIDATES if path.is_file()), None)
