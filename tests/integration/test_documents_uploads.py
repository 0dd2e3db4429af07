"""Attachments are checked by their content, through the page and the API alike: too large, executable,
disguised, macro-enabled, archived or zip-bombed files are refused and the refusal is logged; a declared
SHA-256 that differs from the bytes received is refused (EU Annex 11 §5); a user's file name is only ever
displayed, never used as a path (21 CFR 11.10(a), (c))."""
from __future__ import annotations

import html
import io
import json
import zipfile

import pytest
from docx import Document as DocxDocument
from sqlalchemy import select

from edms.audit.models import AuditEvent
from edms.documents import models as m
from tests.conftest import csrf_token, sign_in
from tests.support.documents import (
    DOCM_MAIN,
    DOCX_CONTENT_TYPES,
    DOCX_MAIN,
    PDF_BYTES,
    counts,
    docx_with,
    sha256,
    stored_files,
)

WORD_XML = b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"/>'
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17


def _oversize(app) -> bytes:
    return b"%PDF-1.4\n" + b"0" * app.extensions["edms"].upload_limits.max_bytes


def _plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("results/flow.csv", "viability,72.0\n")
    return buffer.getvalue()


# (what, file name, content, declared SHA-256 or None, what the refusal says)
REFUSED = [
    ("oversize", "CoA L2026-0412.pdf", _oversize, None, "The file is too large"),
    ("executable", "CoA L2026-0412.pdf", lambda app: b"MZ\x90\x00\x03" + b"\x00" * 64, None,
     "Executable files are not accepted"),
    ("content contradicts name", "flow_cytometry.pdf", lambda app: PNG, None,
     "ends in .pdf but the content is image/png"),
    ("markup", "retest.txt", lambda app: b"<html><script>alert(1)</script></html>", None,
     "markup is not accepted"),
    ("macro-enabled DOCM", "deviation.docm",
     lambda app: docx_with({"word/document.xml": WORD_XML}, DOCX_CONTENT_TYPES.format(main=DOCM_MAIN)), None,
     "Macro-enabled Office files (DOCM, XLSM) are not accepted"),
    ("DOCX renamed with a VBA project inside", "deviation.docx",
     lambda app: docx_with({"word/document.xml": WORD_XML, "word/vbaProject.bin": b"\xd0\xcf\x11\xe0 macro"},
                           DOCX_CONTENT_TYPES.format(main=DOCX_MAIN)), None,
     "the file contains a VBA project"),
    ("zip bomb", "batch_record.docx",
     lambda app: docx_with({"word/document.xml": b"0" * (20 * 1024 * 1024)}, DOCX_CONTENT_TYPES.format(main=DOCX_MAIN)),
     None, "possible zip bomb"),
    ("plain archive", "records.docx", lambda app: _plain_zip(), None, "ZIP archives are not accepted"),
    ("declared hash differs", "CoA L2026-0412.pdf", lambda app: PDF_BYTES, sha256(b"the file as it was sent"),
     "The file changed in transfer"),
    ("declared hash malformed", "CoA L2026-0412.pdf", lambda app: PDF_BYTES, "md5:0cc175b9c0f1b6a831c399e269772661",
     "not a SHA-256 value"),
]


def _refusals(app, document_id: int) -> list[AuditEvent]:
    with app.extensions["edms"].sessions() as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.action == "document.attachment_refused",
                                                        AuditEvent.object_id == str(document_id))).all()


@pytest.mark.req("A11-5")
@pytest.mark.req("11.10(a)")
@pytest.mark.parametrize(("what", "name", "content", "declared", "message"), REFUSED, ids=[r[0] for r in REFUSED])
def test_unsafe_or_changed_uploads_are_refused_through_the_api_and_the_page_and_logged(
        app, client, draft, what, name, content, declared, message):
    api, document_id = draft
    data = content(app)
    sign_in(client, "kenji.sato")
    token = csrf_token(client.get(f"/documents/{document_id}").get_data(as_text=True))
    before = counts(app)
    declaration = {"sha256": declared} if declared else {}

    refused = api.post(f"/documents/{document_id}/attachments", data={"file": (io.BytesIO(data), name), **declaration})
    assert refused.status_code == 400 and refused.json["error"]["code"] == "upload_refused"
    assert message in refused.json["error"]["message"]
    after = counts(app)
    assert after["attachments"] == before["attachments"] and stored_files(app) == []
    assert after["audit_event"] == before["audit_event"] + 1  # the refusal itself, nothing else
    assert message in _refusals(app, document_id)[0].reason

    page = client.post(f"/documents/{document_id}/attachments",
                       data={"csrf_token": token, "file": (io.BytesIO(data), name), **declaration}, follow_redirects=True)
    assert message in html.unescape(page.get_data(as_text=True))
    assert counts(app)["attachments"] == before["attachments"] and stored_files(app) == []
    assert len(_refusals(app, document_id)) == 2


@pytest.mark.req("11.10(c)")
@pytest.mark.parametrize("name", [
    "../../../../etc/cron.d/CoA L2026-0412.pdf",
    "..\\..\\Windows\\System32\\CoA L2026-0412.pdf",
])
def test_a_path_in_the_file_name_is_only_displayed_never_used_as_a_path(app, client, draft, tmp_path, name):
    api, document_id = draft
    sign_in(client, "kenji.sato")
    token = csrf_token(client.get(f"/documents/{document_id}").get_data(as_text=True))
    through_page = client.post(f"/documents/{document_id}/attachments",
                               data={"csrf_token": token, "file": (io.BytesIO(PDF_BYTES), name)})
    assert through_page.status_code == 302
    through_api = api.post(f"/documents/{document_id}/attachments", data={"file": (io.BytesIO(PDF_BYTES), name)})
    assert through_api.status_code == 201
    shown = through_api.json["name"]
    assert shown.endswith("CoA L2026-0412.pdf") and not any(part in shown for part in ("/", "\\", ".."))

    digest = sha256(PDF_BYTES)
    root = app.extensions["edms"].settings.data_dir / "blobs"
    assert stored_files(app) == [root / digest[:2] / digest[2:4] / digest]  # stored once, under its hash
    assert not any(path.name.endswith(".pdf") for path in tmp_path.rglob("*"))
    version = api.get(f"/documents/{document_id}/versions/1").json
    assert [a["name"] for a in version["attachments"]] == [shown] * 2
    download = api.client.get(version["attachments"][1]["url"], headers=api.headers)
    assert download.data == PDF_BYTES and download.headers["X-Content-SHA256"] == digest
    assert download.headers["Content-Disposition"].endswith("CoA%20L2026-0412.pdf")


@pytest.mark.req("A11-5")
def test_real_office_and_text_files_are_accepted_with_a_matching_declared_hash(app, draft):
    api, document_id = draft
    document = DocxDocument()
    document.add_paragraph("Deviation DEV-2026-0003: controlled-rate freezer profile, lot L2026-0412.")
    buffer = io.BytesIO()
    document.save(buffer)
    for name, data in (("deviation.docx", buffer.getvalue()), ("retest.csv", b"sample,viability\nretained,71.4\n"),
                       ("CoA L2026-0412.pdf", PDF_BYTES)):
        accepted = api.post(f"/documents/{document_id}/attachments",
                            data={"file": (io.BytesIO(data), name), "sha256": sha256(data).upper()})
        assert accepted.status_code == 201, accepted.json
        assert accepted.json["sha256"] == sha256(data)
    types = [a["media_type"] for a in api.get(f"/documents/{document_id}/versions/1").json["attachments"]]
    assert types == ["application/vnd.openxmlformats-officedocument.wordprocessingml.document", "text/csv",
                     "application/pdf"]


@pytest.mark.req("11.10(e)")
def test_an_accepted_upload_is_audited_with_its_hash(app, draft):
    api, document_id = draft
    api.post(f"/documents/{document_id}/attachments", data={"file": (io.BytesIO(PDF_BYTES), "CoA.pdf")})
    with app.extensions["edms"].sessions() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "document.attachment_added")).one()
        attachment = session.scalars(select(m.Attachment)).one()
    assert json.loads(event.changes)["attachment"] == {"old": None, "new": {
        "name": "CoA.pdf", "sha256": attachment.sha256, "media_type": "application/pdf", "size": len(PDF_BYTES)}}
