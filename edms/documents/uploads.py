"""Checks on an uploaded attachment, by its content and never by its name (EU Annex 11 §5, §7.1).

Only formats an inspector can open safely are accepted; anything executable, macro-enabled, archived
or damaged is refused with a message saying what was found. The declared SHA-256, when the client sends
one, proves the bytes arrived unchanged.
"""
from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from edms.documents.pdf_scan import PdfTooLarge, active_content
from edms.documents.zip_scan import scan_parts
from edms.errors import N_, UserError
from edms.plaintext import BIDI_CONTROLS

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
TIFF = "image/tiff"
TEXT = "text/plain"
CSV = "text/csv"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# The [Content_Types].xml main part that makes a zip a Word or Excel document.
_OOXML_MAIN_PARTS = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": DOCX,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": XLSX,
}

# What a file name's extension claims; a claim that contradicts the content is refused, so a reviewer
# never opens "result.pdf" and gets something else.
_EXTENSION_TYPES = {
    "pdf": {PDF}, "png": {PNG}, "jpg": {JPEG}, "jpeg": {JPEG}, "tif": {TIFF}, "tiff": {TIFF},
    "txt": {TEXT, CSV}, "csv": {TEXT, CSV}, "docx": {DOCX}, "xlsx": {XLSX},
}

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", PDF),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
)

_EXECUTABLES: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "a Windows executable (MZ/PE)"),
    (b"\x7fELF", "a Linux executable (ELF)"),
    (b"\xfe\xed\xfa\xce", "a macOS executable (Mach-O)"),
    (b"\xfe\xed\xfa\xcf", "a macOS executable (Mach-O)"),
    (b"\xce\xfa\xed\xfe", "a macOS executable (Mach-O)"),
    (b"\xcf\xfa\xed\xfe", "a macOS executable (Mach-O)"),
    (b"\xca\xfe\xba\xbe", "a macOS universal executable or Java class"),
    (b"#!", "a script with an interpreter line (#!)"),
    (b"\xef\xbb\xbf#!", "a script with an interpreter line (#!)"),
    (b"L\x00\x00\x00\x01\x14\x02\x00", "a Windows shortcut (LNK)"),
    (b"\x00asm", "a WebAssembly module"),
)

# Names that Windows, a browser or a shell runs when opened, whatever the content looks like.
_EXECUTABLE_NAMES = frozenset({
    "exe", "dll", "scr", "com", "pif", "cpl", "msi", "msp", "msc", "bat", "cmd", "ps1", "psm1", "vbs", "vbe", "js",
    "jse", "wsf", "wsh", "hta", "jar", "sh", "bash", "zsh", "py", "pl", "rb", "php", "lnk", "reg", "inf", "apk", "app",
    "dmg", "pkg", "deb", "rpm", "iso", "img", "vhd", "svg", "svgz", "htm", "html", "xhtml", "mht", "mhtml", "url",
    "website", "application", "appref-ms", "gadget", "chm", "iqy", "slk", "library-ms", "settingcontent-ms",
})

_OTHER_FORMATS: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"\x28\xb5\x2f\xfd", "a Zstandard archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Microsoft Office file (OLE2; may carry macros)"),
    (b"GIF8", "a GIF image"),
    (b"RIFF", "a RIFF media file"),
)

_MARKUP = re.compile(rb"^\s*<(?:!doctype|html|\?xml|svg|script)", re.IGNORECASE)
# What a browser that sniffs content takes for a page, anywhere near the start of a "text" file.
_SNIFFED_MARKUP = re.compile(rb"<(?:!doctype|html|head|body|script|svg|iframe|object|embed|img|a\s|\?xml)[\s>/]",
                             re.IGNORECASE)
_LEADING_NOISE = re.compile(rb"^(?:\xef\xbb\xbf|\s|<!--.*?-->)+", re.DOTALL)
_SNIFF_BYTES = 1024
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_UNSAFE_NAME_CHARS = re.compile(r'[<>:"|?*]')

MAX_NAME_LENGTH = 120
MAX_COMPRESSION_RATIO = 100  # well above real DOCX/XLSX (typically < 20), far below a zip bomb
MAX_ZIP_ENTRIES = 2000
_RATIO_FLOOR = 1 << 20
_MAX_CONTENT_TYPES_BYTES = 1 << 20


class UploadRejected(UserError):
    pass


@dataclass(frozen=True)
class UploadLimits:
    """How large an upload, and the archive inside an OOXML file once expanded, may be."""

    max_bytes: int = 25 * 1024 * 1024
    max_expanded_bytes: int = 200 * 1024 * 1024


DEFAULT_UPLOAD_LIMITS = UploadLimits()


@dataclass(frozen=True)
class UploadInfo:
    safe_display_name: str
    media_type: str
    size: int
    sha256: str


def inspect_upload(
    filename: str,
    data: bytes,
    *,
    max_bytes: int,
    max_expanded_bytes: int,
    declared_sha256: str | None = None,
) -> UploadInfo:
    """Accept the upload or raise UploadRejected saying why; nothing is written anywhere."""
    if len(data) > max_bytes:
        raise UploadRejected(
            N_("The file is too large: %(size)d bytes; the limit is %(limit)d bytes."), size=len(data), limit=max_bytes
        )
    if not data:
        raise UploadRejected(N_("The file is empty."))
    sha256 = hashlib.sha256(data).hexdigest()
    if declared_sha256 is not None:
        _check_declared_hash(declared_sha256, sha256)
    _check_name(filename)
    display_name = safe_display_name(filename)
    media_type = detect_media_type(display_name, data, max_expanded_bytes=max_expanded_bytes)
    extension = display_name.rpartition(".")[2].lower() if "." in display_name else ""
    claimed = _EXTENSION_TYPES.get(extension)
    if claimed is not None and media_type not in claimed:
        raise UploadRejected(
            N_("The file name ends in .%(extension)s but the content is %(media_type)s; rename it or upload the right file."),
            extension=extension,
            media_type=media_type,
        )
    return UploadInfo(safe_display_name=display_name, media_type=media_type, size=len(data), sha256=sha256)


def _check_name(filename: str) -> None:
    """Refuse names that disguise their extension or that the reader's system would run."""
    hidden = sorted({f"U+{ord(char):04X}" for char in filename if char in BIDI_CONTROLS})
    if hidden:
        raise UploadRejected(N_("The file name contains %(codes)s, which can disguise its real extension; rename the file."),
                             codes=", ".join(hidden))
    extension = safe_display_name(filename).rpartition(".")[2].lower()
    if "." in safe_display_name(filename) and extension in _EXECUTABLE_NAMES:
        raise UploadRejected(N_("Files named .%(extension)s are run when opened and are not accepted."), extension=extension)


def _check_declared_hash(declared: str, actual: str) -> None:
    normalised = declared.strip().lower()
    if not _SHA256_HEX.match(normalised):
        raise UploadRejected(N_("The declared checksum is not a SHA-256 value (64 hexadecimal characters)."))
    if normalised != actual:
        raise UploadRejected(
            N_("The file changed in transfer: its SHA-256 is %(actual)s but %(declared)s was declared. Upload it again."),
            actual=actual,
            declared=normalised,
        )


def safe_display_name(filename: str) -> str:
    """The last path component, without control or format characters (which can disguise an
    extension, e.g. U+202E), limited in length with the extension kept. Only ever displayed."""
    name = unicodedata.normalize("NFC", filename).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if unicodedata.category(char) not in ("Cc", "Cf", "Zl", "Zp"))
    name = _UNSAFE_NAME_CHARS.sub("_", name).strip().strip(".").strip()
    if not name:
        return "attachment"
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            name = stem[: MAX_NAME_LENGTH - len(extension) - 1] + "." + extension
        else:
            name = name[:MAX_NAME_LENGTH]
    return name


def detect_media_type(display_name: str, data: bytes, *, max_expanded_bytes: int) -> str:
    """The media type the bytes really are, or UploadRejected naming what was found instead."""
    for magic, description in _EXECUTABLES:
        if data.startswith(magic):
            raise UploadRejected(N_("Executable files are not accepted (this is %(what)s)."), what=description)
    for magic, media_type in _SIGNATURES:
        if data.startswith(magic):
            if media_type == PDF:
                _check_pdf(data, max_expanded_bytes)
            return media_type
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _ooxml_type(data, max_expanded_bytes)
    for magic, description in _OTHER_FORMATS:
        if data.startswith(magic):
            raise UploadRejected(N_("This file type is not accepted (this is %(what)s)."), what=description)
    if len(data) > 262 and data[257:262] == b"ustar":
        raise UploadRejected(N_("This file type is not accepted (this is %(what)s)."), what="a tar archive")
    return _text_type(display_name, data)


def _check_pdf(data: bytes, max_expanded_bytes: int) -> None:
    try:
        found = active_content(data, max_expanded_bytes)
    except PdfTooLarge:
        raise UploadRejected(N_("The PDF's streams expand beyond the limit of %(limit)d bytes (possible compression bomb)."),
                             limit=max_expanded_bytes) from None
    if found:
        raise UploadRejected(N_("PDFs with active content are not accepted (this one has %(what)s); print it to a plain PDF."),
                             what=", ".join(found))


def _text_type(display_name: str, data: bytes) -> str:
    if b"\x00" in data:
        raise UploadRejected(
            N_("Unrecognised binary content (first bytes %(head)s); accepted are PDF, PNG, JPEG, TIFF, text/CSV, DOCX and XLSX."),
            head=data[:8].hex(" "),
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise UploadRejected(
            N_("Text files must be UTF-8; this one is not (Shift_JIS or another encoding?). Save it as UTF-8 and upload again.")
        ) from None
    head = _LEADING_NOISE.sub(b"", data[:_SNIFF_BYTES * 64], count=1)
    if _MARKUP.match(head) or _SNIFFED_MARKUP.search(head[:_SNIFF_BYTES]) or head.startswith(b"#!"):
        raise UploadRejected(N_("HTML, SVG or XML markup is not accepted; upload a PDF instead."))
    # Content cannot tell CSV from other text; the name only chooses between two equally safe types.
    return CSV if display_name.lower().endswith(".csv") else TEXT


def _ooxml_type(data: bytes, max_expanded_bytes: int) -> str:
    """DOCX or XLSX judged from the zip directory and [Content_Types].xml, without extracting parts."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError):
        raise UploadRejected(N_("The file looks like a ZIP archive but is damaged.")) from None
    _check_zip_bomb(entries, len(data), max_expanded_bytes)
    names = {entry.filename.lower() for entry in entries}
    if any(entry.flag_bits & 0x1 for entry in entries):
        raise UploadRejected(N_("Encrypted archives are not accepted."))
    if any(name.endswith("vbaproject.bin") for name in names):
        raise UploadRejected(N_("Macro-enabled Office files are not accepted (the file contains a VBA project)."))
    if any("/activex/" in f"/{name}" for name in names):
        raise UploadRejected(N_("Office files with ActiveX controls are not accepted."))
    if "[content_types].xml" not in names:
        raise UploadRejected(N_("ZIP archives are not accepted; upload the files themselves (PDF, images, DOCX, XLSX)."))
    content_types = _read_content_types(archive)
    if any("macroenabled" in value.lower() or "vbaproject" in value.lower() for value in content_types):
        raise UploadRejected(N_("Macro-enabled Office files (DOCM, XLSM) are not accepted; save as DOCX or XLSX."))
    try:
        finding = scan_parts(archive, data, max_expanded_bytes)
    except (zipfile.BadZipFile, ValueError):
        raise UploadRejected(N_("The file looks like a ZIP archive but is damaged.")) from None
    if finding is not None:
        raise UploadRejected(finding.message, **finding.params)
    for value in content_types:
        if value in _OOXML_MAIN_PARTS:
            return _OOXML_MAIN_PARTS[value]
    raise UploadRejected(
        N_("This Office or ZIP format is not accepted (main part: %(found)s); only DOCX and XLSX are."),
        found=", ".join(sorted(value for value in content_types if value.endswith(".main+xml"))) or "none",
    )


def _check_zip_bomb(entries: list[zipfile.ZipInfo], size: int, max_expanded_bytes: int) -> None:
    # The declared sizes in the central directory are checked before anything is decompressed; the one
    # part read afterwards is read with a hard limit, so a lying directory cannot expand either.
    if len(entries) > MAX_ZIP_ENTRIES:
        raise UploadRejected(N_("The archive has too many entries (%(count)d)."), count=len(entries))
    expanded = sum(entry.file_size for entry in entries)
    if expanded > max_expanded_bytes:
        raise UploadRejected(
            N_("The archive would expand to %(expanded)d bytes, more than the limit of %(limit)d (possible zip bomb)."),
            expanded=expanded,
            limit=max_expanded_bytes,
        )
    # Small parts may compress very well and are harmless; the ratio matters once output is large.
    ratios = [entry.file_size / max(entry.compress_size, 1) for entry in entries if entry.file_size > _RATIO_FLOOR]
    if expanded > _RATIO_FLOOR:
        ratios.append(expanded / size)
    worst = max(ratios, default=0.0)
    if worst > MAX_COMPRESSION_RATIO:
        raise UploadRejected(
            N_("The archive is compressed %(ratio)d:1, beyond the limit of %(limit)d:1 (possible zip bomb)."),
            ratio=int(worst),
            limit=MAX_COMPRESSION_RATIO,
        )


def _read_content_types(archive: zipfile.ZipFile) -> list[str]:
    entry = next(info for info in archive.infolist() if info.filename.lower() == "[content_types].xml")
    try:
        with archive.open(entry) as part:
            xml = part.read(_MAX_CONTENT_TYPES_BYTES + 1)
        if len(xml) > _MAX_CONTENT_TYPES_BYTES:
            raise UploadRejected(N_("The Office file's content type list is implausibly large."))
        root = fromstring(xml, forbid_dtd=True)  # defusedxml: no DTD, no entity expansion, nothing fetched
    except (zipfile.BadZipFile, ParseError, DefusedXmlException, RuntimeError, NotImplementedError, OSError):
        raise UploadRejected(N_("The Office file is damaged (its content type list cannot be read).")) from None
    return [element.get("ContentType", "") for element in root if element.tag.endswith(("}Override", "}Default"))]
