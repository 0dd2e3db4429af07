"""A PDF font cut down, before fpdf2 reads it, to the glyphs of the characters the PDF prints (issue 15): for the
inspection report (edms.inspection.report) and the renditions of a record (edms.documents.renditions.pdf).

fpdf2 parses the whole font it is given for every PDF (its cmap, and a width for each of IPAex's ~12,000
characters, in Python) and subsets it again, in Python, when the PDF is written: ~40 % of an export's time and
more than half of a submission's (the frozen PDF). Here HarfBuzz's subsetter (C, a few milliseconds) first keeps
every table, name and hint of the font but only the glyphs printed, each with every code point the font maps to
it (as fpdf2 keeps them), and the first four glyphs (fpdf2's "recommended glyphs"); fpdf2 then parses that small
font and subsets it as it would have subset the whole one. Subsetting a font that holds every glyph used gives the
same font as subsetting the whole one, so the PDF is byte for byte what the whole font gives:
tests/unit/test_report_pdf_font.py and tests/unit/documents/test_rendition_pdf_font.py compare them, and fail if a
newer fpdf2 or HarfBuzz ever subsets otherwise.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import uharfbuzz as hb

# fpdf2 keeps glyphs 0-3 of a font it subsets (fontTools' recommended_glyphs: .notdef, .null, CR, space).
_FPDF_KEEPS_GLYPHS = range(4)


@dataclass(frozen=True)
class _Cmap:
    """A font file's code points by glyph, read once per process (~15-50 ms: twelve thousand look-ups)."""

    size: int  # of the font file, with its modification time: a font replaced on disk is read again
    modified_ns: int
    glyph: dict[int, int]  # code point -> glyph
    code_points: dict[int, list[int]]  # glyph -> every code point mapped to it
    characters: frozenset[int]  # every code point the font maps


_lock = threading.Lock()
_cmaps: dict[Path, _Cmap] = {}


def _cmap(path: Path, stat: os.stat_result, face: hb.Face | None = None) -> _Cmap:
    """The font's cmap, kept per file; `face`, when the caller has opened the font already (else opened here, only
    when the cmap is read)."""
    with _lock:
        held = _cmaps.get(path)
        if held is None or (held.size, held.modified_ns) != (stat.st_size, stat.st_mtime_ns):
            face = face or hb.Face(hb.Blob.from_file_path(str(path)))
            font = hb.Font(face)
            glyph = {code: font.get_nominal_glyph(code) for code in face.unicodes}
            code_points: dict[int, list[int]] = {}
            for code, number in glyph.items():
                code_points.setdefault(number, []).append(code)
            held = _cmaps[path] = _Cmap(stat.st_size, stat.st_mtime_ns, glyph, code_points, frozenset(glyph))
        return held


def characters_of(path: Path) -> frozenset[int]:
    """The code points the whole font at `path` has a glyph for (read once per process and font file)."""
    return _cmap(path, path.stat()).characters


def subset_font(path: Path, characters: Iterable[str]) -> bytes:
    """The font at `path` with only the glyphs of `characters` (those it has), as fpdf2 needs it."""
    stat = path.stat()  # before the font is read: a font replaced meanwhile is read again by the next report
    face = hb.Face(hb.Blob.from_file_path(str(path)))
    cmap = _cmap(path, stat, face)
    keep = hb.SubsetInput()
    keep.keep_everything()  # every table, name, hint and layout feature: fpdf2 prunes them as from the whole font
    keep.flags |= hb.SubsetFlags.NO_LAYOUT_CLOSURE  # no glyph the layout tables reach (fpdf2 drops those tables)
    keep.unicode_set.clear()
    keep.glyph_set.clear()
    for number in {cmap.glyph[code] for code in map(ord, set(characters)) if code in cmap.glyph}:
        keep.unicode_set.update(cmap.code_points[number])
    keep.glyph_set.update(_FPDF_KEEPS_GLYPHS)
    subset = hb.subset(face, keep)
    if subset is None:
        raise RuntimeError(f"HarfBuzz could not subset the PDF font {path}")
    return subset.blob.data


@contextlib.contextmanager
def subset_font_file(path: Path, characters: Iterable[str]) -> Iterator[Path]:
    """`subset_font` as a file for fpdf2, which reads a font from a path (lazily: the file must last until the
    PDF is written); removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="edms-pdf-font-") as directory:
        font = Path(directory) / "subset.ttf"
        font.write_bytes(subset_font(path, characters))
        yield font
