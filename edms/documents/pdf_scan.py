"""Active content in a PDF, found by a byte scan: JavaScript, launch actions, embedded files.

A PDF attachment is opened by reviewers and inspectors on their own machines; one that runs script,
starts a program or carries files of its own is refused. The names are searched in the file and in
every FlateDecode stream (object streams can hide the dictionaries), with PDF name escapes (`/J#61vaScript`)
decoded. No PDF parser is needed at run time (pypdf is a test tool only): a name cannot act without
appearing in one of these places, and inflating is bounded by the same limit as archives.
"""
from __future__ import annotations

import re
import zlib

ACTIVE_NAMES = {
    b"JS": "JavaScript", b"JavaScript": "JavaScript", b"Launch": "a launch action (starts a program)",
    b"EmbeddedFile": "embedded files", b"EmbeddedFiles": "embedded files", b"RichMedia": "embedded media (Flash)",
}
_NAME = re.compile(rb"/([A-Za-z0-9#]{2,40})")
_HEX_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_STREAM = re.compile(rb"stream\r?\n")
_END_STREAM = b"endstream"


class PdfTooLarge(Exception):
    """Streams that inflate beyond the limit (a compression bomb inside a PDF)."""


def _names(data: bytes) -> set[bytes]:
    return {_HEX_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), match.group(1)) for match in _NAME.finditer(data)}


def _streams(data: bytes, budget: int) -> list[bytes]:
    """Every stream that inflates as zlib (FlateDecode), in total at most `budget` bytes."""
    inflated: list[bytes] = []
    for start in _STREAM.finditer(data):
        end = data.find(_END_STREAM, start.end())
        if end < 0:
            break
        inflater = zlib.decompressobj()
        try:
            out = inflater.decompress(data[start.end():end], budget + 1)
        except zlib.error:
            continue  # not FlateDecode (an image, another filter): its names were scanned as bytes
        budget -= len(out)
        if budget < 0 or inflater.unconsumed_tail:
            raise PdfTooLarge()
        inflated.append(out)
    return inflated


def active_content(data: bytes, max_expanded_bytes: int) -> list[str]:
    """What active content the PDF carries (empty when none); PdfTooLarge for a bomb."""
    found: set[bytes] = _names(data)
    for stream in _streams(data, max_expanded_bytes):
        found |= _names(stream)
    return sorted({ACTIVE_NAMES[name] for name in found if name in ACTIVE_NAMES})
