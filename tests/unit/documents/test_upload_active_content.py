"""Uploads that would act when a reviewer opens them are refused: PDFs with script, launch actions or
embedded files, executables and scripts by name, markup behind a comment, Office files whose directory
under-states what they hold, that carry other files or fetch a template from elsewhere (EU Annex 11 §5)."""
from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest
from docx import Document

from edms.documents.uploads import DOCX, PDF, TEXT, UploadRejected, inspect_upload

MiB = 1024 * 1024
LIMITS = {"max_bytes": 20 * MiB, "max_expanded_bytes": 100 * MiB}
CATALOG = b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R %s >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"


def check(filename: str, data: bytes, **overrides):
    return inspect_upload(filename, data, **{**LIMITS, **overrides})


def refused(filename: str, data: bytes, **overrides) -> str:
    with pytest.raises(UploadRejected) as caught:
        check(filename, data, **overrides)
    return str(caught.value)


def pdf(body: bytes) -> bytes:
    return b"%PDF-1.7\n" + body + b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"


def object_stream(content: bytes) -> bytes:
    packed = zlib.compress(content)
    return b"3 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (
        len(packed), packed)


def investigation_docx(**extra: bytes) -> bytes:
    document = Document()
    document.add_paragraph("Viability 72 % (7-AAD) against a specification of >= 80 %; retest 71.4 %.")
    output = io.BytesIO()
    document.save(output)
    if not extra:
        return output.getvalue()
    combined = io.BytesIO()
    with zipfile.ZipFile(output) as source, zipfile.ZipFile(combined, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            target.writestr(entry.filename, source.read(entry))
        for name, content in extra.items():
            target.writestr(name, content)
    return combined.getvalue()


def understate(data: bytes, part: str, *, field: str) -> bytes:
    """The archive with the central directory's uncompressed (or compressed) size of `part` set to 10."""
    offset = 24 if field == "size" else 20
    buffer = bytearray(data)
    position = buffer.find(b"PK\x01\x02")
    while position >= 0:
        name_length = struct.unpack_from("<H", buffer, position + 28)[0]
        if buffer[position + 46:position + 46 + name_length].decode() == part:
            struct.pack_into("<L", buffer, position + offset, 10)
        position = buffer.find(b"PK\x01\x02", position + 4)
    return bytes(buffer)


@pytest.mark.req("A11-5")
@pytest.mark.parametrize(("body", "what"), [
    (CATALOG % b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >>", "JavaScript"),
    (CATALOG % b"/OpenAction << /S /J#61vaScript /J#53 (app.alert(1)) >>", "JavaScript"),
    (CATALOG % b"/OpenAction << /S /Launch /F (cmd.exe) >>", "launch action"),
    (CATALOG % b"/Names << /EmbeddedFiles << /Names [(a.exe) 4 0 R] >> >>", "embedded files"),
    (CATALOG % b"" + object_stream(b"4 0 << /S /JavaScript /JS (app.alert(1)) >>"), "JavaScript"),
    (CATALOG % b"" + object_stream(b"4 0 << /Type /EmbeddedFile >>"), "embedded files"),
])
def test_a_pdf_with_script_launch_actions_or_embedded_files_is_refused_also_inside_compressed_streams(body, what):
    message = refused("CoA L2026-0412.pdf", pdf(body))
    assert message.startswith("PDFs with active content are not accepted") and what in message


def test_a_plain_pdf_with_compressed_streams_is_accepted():
    data = pdf(CATALOG % b"" + object_stream(b"4 0 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"))
    assert check("CoA.pdf", data).media_type == PDF


@pytest.mark.req("A11-5")
def test_a_pdf_whose_streams_inflate_beyond_the_limit_is_refused():
    data = pdf(CATALOG % b"" + object_stream(bytes(4 * MiB)))
    assert "expand beyond the limit" in refused("CoA.pdf", data, max_expanded_bytes=MiB)


@pytest.mark.req("A11-5")
@pytest.mark.parametrize("extension", ["vbs", "hta", "js", "bat", "cmd", "ps1", "exe", "dll", "scr", "msi", "jar", "sh",
                                       "svg", "html"])
def test_scripts_and_executables_are_refused_by_name_whatever_their_content(extension):
    message = refused(f"viability.{extension}", b"lot,viability\nL2026-0412,72.0\n")
    assert f".{extension} are run when opened" in message


@pytest.mark.req("A11-5")
@pytest.mark.parametrize("name", ["CoA\u202efdp.exe", "report\u202e.pdf", "lot\u2066.txt\u2069.txt"])
def test_a_name_with_bidirectional_controls_is_refused_naming_them(name):
    assert "can disguise its real extension" in refused(name, b"%PDF-1.4\n%%EOF\n")


@pytest.mark.req("A11-5")
@pytest.mark.parametrize("data", [
    b"<!-- lot L2026-0412 -->\n<html><body><script>alert(1)</script></body></html>",
    b"\xef\xbb\xbf  \n\t<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
    b"<!-- a --> <!-- b -->\n<script>alert(1)</script>",
    b"Viability results\nSee <iframe src='https://example.invalid/'></iframe>\n",
    b"\xef\xbb\xbf#!/bin/sh\nrm -rf /\n",
])
def test_markup_or_a_script_behind_a_comment_bom_or_whitespace_is_refused(data):
    message = refused("notes.txt", data)
    assert "markup is not accepted" in message or "interpreter line" in message


def test_text_that_merely_compares_numbers_is_accepted():
    assert check("notes.txt", b"viability < 80 % and dose > 0.6 x 10^8\n").media_type == TEXT


@pytest.mark.req("A11-5")
@pytest.mark.parametrize("field", ["size", "compressed size"])
def test_a_docx_whose_central_directory_under_states_a_part_is_refused(field):
    docx = understate(investigation_docx(), "word/document.xml", field=field)
    message = refused("investigation.docx", docx)
    assert "word/document.xml" in message and "zip bomb" in message


@pytest.mark.req("A11-5")
@pytest.mark.parametrize("parts", [
    {"word/embeddings/oleObject1.bin": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100)},
    {"word/media/inner.zip": b"PK\x05\x06" + bytes(18)},
    {"customXml/item9.xml": investigation_docx()},
])
def test_a_docx_carrying_other_files_or_archives_is_refused(parts):
    assert "carry other files" in refused("investigation.docx", investigation_docx(**parts))


ATTACHED_TEMPLATE = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/%s"
 Target="https://example.invalid/template.dotm" TargetMode="External"/>
</Relationships>"""


@pytest.mark.req("A11-5")
def test_a_docx_that_loads_a_template_from_elsewhere_is_refused_but_a_hyperlink_is_accepted():
    remote = investigation_docx(**{"word/_rels/settings.xml.rels": ATTACHED_TEMPLATE % b"attachedTemplate"})
    assert "attachedTemplate from outside the file" in refused("investigation.docx", remote)
    linked = investigation_docx(**{"word/_rels/footnotes.xml.rels": ATTACHED_TEMPLATE % b"hyperlink"})
    assert check("investigation.docx", linked).media_type == DOCX


@pytest.mark.req("A11-5")
def test_office_xml_with_a_dtd_is_refused_as_damaged_never_expanded():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">&b;</Relationships>')
    assert "damaged" in refused("investigation.docx", investigation_docx(**{"word/_rels/styles.xml.rels": bomb}))
