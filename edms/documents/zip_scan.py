"""What an Office (ZIP) upload really holds, found by inflating every part ourselves and counting.

The central directory states each part's sizes, and a crafted one under-states them: a reader that
trusts it (Word, LibreOffice, a rendition) inflates far more. So every part is inflated here from its
local header, counting the bytes and stopping past the stated size or the limit; a part whose stream
does not end where the directory says is refused. Parts that are archives themselves, and relationships
that fetch a template or an object from elsewhere when the file is opened, are refused too. XML is
parsed with defusedxml (no entity expansion, no external entities or DTDs).
"""
from __future__ import annotations

import struct
import zipfile
import zlib
from dataclasses import dataclass

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from edms.errors import N_

_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_ARCHIVE_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b")
_ARCHIVE_NAMES = (".zip", ".docx", ".docm", ".xlsx", ".xlsm", ".pptx", ".jar", ".7z", ".rar", ".gz", ".cab", ".bin",
                  ".exe", ".dll", ".msi")
_MAX_RELS_BYTES = 1 << 20
# An external target is fetched or run when the file is opened; only a hyperlink waits for a click.
_HYPERLINK = "/relationships/hyperlink"


@dataclass(frozen=True)
class Finding:
    """Why the archive is refused: an English msgid and its parameters."""

    message: str
    params: dict[str, object]


def _data_start(data: bytes, entry: zipfile.ZipInfo) -> int:
    header = data[entry.header_offset:entry.header_offset + _LOCAL_HEADER.size]
    if len(header) < _LOCAL_HEADER.size:
        raise zipfile.BadZipFile("truncated local header")
    fields = _LOCAL_HEADER.unpack(header)
    if fields[0] != b"PK\x03\x04":
        raise zipfile.BadZipFile("bad local header")
    return entry.header_offset + _LOCAL_HEADER.size + fields[9] + fields[10]


def inflate_part(data: bytes, entry: zipfile.ZipInfo, budget: int) -> bytes | Finding:
    """The part's bytes, inflated from its local header; a Finding when its real size is not the stated
    one or passes `budget`. BadZipFile when the archive is damaged."""
    start = _data_start(data, entry)
    raw = data[start:start + entry.compress_size]
    if len(raw) != entry.compress_size:
        raise zipfile.BadZipFile("truncated part")
    if entry.compress_type == zipfile.ZIP_STORED:
        out = raw
    elif entry.compress_type == zipfile.ZIP_DEFLATED:
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            out = inflater.decompress(raw, min(entry.file_size, budget) + 1)
        except zlib.error:
            raise zipfile.BadZipFile("bad deflate stream") from None
        if len(out) <= min(entry.file_size, budget) and not inflater.eof:
            return Finding(N_("The archive's directory under-states the size of %(part)s (it holds more than "
                           "stated); the file is refused as a possible zip bomb."), {"part": entry.filename})
    else:
        return Finding(N_("The archive uses a compression method Office files do not (%(method)s)."),
                       {"method": entry.compress_type})
    if len(out) > budget:
        return Finding(N_("The archive expands beyond the limit of %(limit)d bytes (possible zip bomb)."), {"limit": budget})
    if len(out) != entry.file_size:
        return Finding(N_("The archive's directory states %(stated)d bytes for %(part)s but it holds %(real)s; the file "
                       "is refused as a possible zip bomb."),
                       {"stated": entry.file_size, "part": entry.filename,
                        "real": "more" if len(out) > entry.file_size else f"{len(out)}"})
    if zlib.crc32(out) != entry.CRC:
        raise zipfile.BadZipFile("bad CRC")
    return out


def _external_targets(xml: bytes) -> list[str]:
    root = fromstring(xml, forbid_dtd=True)
    return [element.get("Type", "") for element in root
            if element.tag.endswith("}Relationship") and element.get("TargetMode", "").lower() == "external"
            and not element.get("Type", "").endswith(_HYPERLINK)]


def scan_parts(archive: zipfile.ZipFile, data: bytes, max_expanded_bytes: int) -> Finding | None:
    """Inflate every part, counting; refuse nested archives and external relationships."""
    budget = max_expanded_bytes
    for entry in archive.infolist():
        if entry.is_dir():
            continue
        name = entry.filename.lower()
        if name.endswith(_ARCHIVE_NAMES) or "/embeddings/" in f"/{name}":
            return Finding(N_("Office files that carry other files (%(part)s) are not accepted; upload them separately."),
                           {"part": entry.filename})
        out = inflate_part(data, entry, budget)
        if isinstance(out, Finding):
            return out
        budget -= len(out)
        if out.startswith(_ARCHIVE_MAGIC):
            return Finding(N_("Office files that carry other files (%(part)s) are not accepted; upload them separately."),
                           {"part": entry.filename})
        if name.endswith(".rels"):
            if len(out) > _MAX_RELS_BYTES:
                raise zipfile.BadZipFile("implausibly large relationships part")
            try:
                external = _external_targets(out)
            except (ParseError, DefusedXmlException):
                raise zipfile.BadZipFile("unreadable relationships part") from None
            if external:
                kind = external[0].rsplit("/", 1)[-1]
                return Finding(N_("Office files that load %(kind)s from outside the file when opened are not accepted "
                               "(%(part)s)."), {"kind": kind, "part": entry.filename})
    return None
