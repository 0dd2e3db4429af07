"""The font of a PAdES signature's visible appearance, prepared once per process rather than at every signature.

Two steps used to parse fonts at every signature: subsetting the 6 MB Japanese font to the appearance's
characters (a few hundred milliseconds), then pyHanko subsetting that again to the glyphs the text draws and
saving it into the PDF. Neither depends on the signature, only on the characters and the glyphs:

- `appearance_font`: the font subset to the appearance's characters (and the digits and signs of any date and
  time, so a person's next signatures reuse it), scaled to 1000 units per em, kept by the exact characters. A
  new set of characters (a person's first signature in a process) is first cut by HarfBuzz, so fontTools parses
  ~30 KB rather than 6 MB (~400 ms → ~150 ms, the same bytes);
- `AppearanceFontFactory`: pyHanko's glyph accumulator over those bytes (no temporary file), whose embedded
  font program is pyHanko's own subset for the glyphs drawn, kept by the exact font and glyphs.
"""
from __future__ import annotations

import functools
import io
from pathlib import Path

import uharfbuzz as hb
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.api import FontEngineFactory
from pyhanko.pdf_utils.font.opentype import CIDFontType2, GlyphAccumulator
from pyhanko.pdf_utils.writer import BasePdfFileWriter

# What every appearance may draw besides its own words: the digits and signs of a date and time with zone. They
# are in every appearance font, so a font depends on the signer's name, meaning, step and zone only and the one
# made for a person's first signature serves the next ones (pyHanko embeds only the glyphs the text draws).
APPEARANCE_FIXED_CHARACTERS = " 0123456789-+:./()"
FONT_SIZE = 8


def appearance_characters(text: str) -> str:
    """The characters the appearance font of `text` holds, sorted: its cache key."""
    return "".join(sorted(set(text + APPEARANCE_FIXED_CHARACTERS)))


def _glyphs_of(font_path: str, characters: str) -> bytes:
    """The font cut by HarfBuzz (C, milliseconds) to the glyphs of `characters` and every glyph its layout
    tables and composites reach, every table kept: what fontTools then subsets is small, and subsetting a font
    that holds every glyph the subset needs gives the font the whole one gives (tests/unit/crypto/
    test_pades_fast_paths.py compares them table by table)."""
    keep = hb.SubsetInput()
    keep.keep_everything()
    keep.glyph_set.clear()
    keep.unicode_set.clear()
    keep.unicode_set.update(map(ord, characters))
    cut = hb.subset(hb.Face(hb.Blob.from_file_path(font_path)), keep)
    if cut is None:
        raise RuntimeError(f"HarfBuzz could not subset the appearance font {font_path}")
    data: bytes = cut.blob.data
    return data


@functools.lru_cache(maxsize=256)
def _appearance_font_data(font_path: str, version: tuple[int, int], characters: str) -> bytes:
    """The font subset to `characters`, scaled to 1000 units per em: pyHanko writes glyph widths in font units,
    which a viewer reads per 1000 (IPAex and DejaVu have 2048), so their text would be spread out and cut off;
    the subset is also far quicker for pyHanko to read. Kept per process by the exact characters and the font
    file's version (modification time, size)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont
    from fontTools.ttLib.scaleUpem import scale_upem

    font = TTFont(io.BytesIO(_glyphs_of(font_path, characters)))
    subsetter = subset.Subsetter(subset.Options(layout_features=["*"], name_IDs=["*"], notdef_outline=True))
    subsetter.populate(text=characters)
    subsetter.subset(font)
    if font["head"].unitsPerEm != 1000:
        scale_upem(font, 1000)
    output = io.BytesIO()
    font.save(output)
    return output.getvalue()


def appearance_font(font_path: Path, text: str) -> bytes:
    """The appearance font of `text` (an OpenType/TrueType font file's bytes)."""
    stat = font_path.stat()
    return _appearance_font_data(str(font_path), (stat.st_mtime_ns, stat.st_size), appearance_characters(text))


class _EmbeddedFonts:
    """pyHanko's embedded font programs by (appearance font, glyph ids drawn): bounded, oldest dropped first."""

    def __init__(self, size: int = 256) -> None:
        self._size, self._kept = size, dict[tuple[bytes, tuple[int, ...]], bytes]()

    def get(self, key: tuple[bytes, tuple[int, ...]]) -> bytes | None:
        return self._kept.get(key)

    def put(self, key: tuple[bytes, tuple[int, ...]], program: bytes) -> None:
        if len(self._kept) >= self._size:
            self._kept.pop(next(iter(self._kept)), None)
        self._kept[key] = program


EMBEDDED = _EmbeddedFonts()


def _font_file(cidfont: CIDFontType2, program: bytes, writer: BasePdfFileWriter) -> generic.IndirectObject:
    """`CIDFontType2.set_font_file` with the font program given rather than saved from the parsed font."""
    font_stream = generic.StreamObject(stream_data=program)
    font_stream.compress()  # type: ignore[no-untyped-call]  # (unannotated in pyHanko)
    font_stream_ref = writer.add_object(font_stream)
    cidfont._font_descriptor[generic.pdf_name("/FontFile2")] = font_stream_ref
    return font_stream_ref


class _Accumulator(GlyphAccumulator):
    """pyHanko's glyph accumulator; its subset for the glyphs drawn is made by pyHanko once per font and glyph
    set, then embedded from the kept bytes. A CFF font is left entirely to pyHanko."""

    def __init__(self, *args: object, font: bytes, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._font = font

    def _extract_subset(self, options: object = None) -> None:
        if not isinstance(self.cidfont_obj, CIDFontType2):
            super()._extract_subset(options)
            return
        key = (self._font, tuple(sorted(self._glyphs)))
        program = EMBEDDED.get(key)
        if program is None:
            super()._extract_subset(options)
            output = io.BytesIO()
            self.tt.save(output)
            program = output.getvalue()
            EMBEDDED.put(key, program)
        cidfont = self.cidfont_obj
        cidfont.set_font_file = functools.partial(_font_file, cidfont, program)  # type: ignore[method-assign]


class AppearanceFontFactory(FontEngineFactory):
    """What `pyhanko.pdf_utils.font.opentype.GlyphAccumulatorFactory` makes, over font bytes in memory."""

    def __init__(self, font: bytes, font_size: int = FONT_SIZE) -> None:
        self.font, self.font_size = font, font_size

    def create_font_engine(self, writer: BasePdfFileWriter, obj_stream: object = None) -> GlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs:
            obj_stream = writer.prepare_object_stream()  # type: ignore[no-untyped-call]
        return _Accumulator(writer=writer, font_handle=io.BytesIO(self.font), font_size=self.font_size,
                            obj_stream=obj_stream, font=self.font)
