"""A multipart/form-data body (an attachment's upload, on the page and over the API) carries text only as valid
UTF-8, like URL-encoded forms and JSON: a field value, a field name or a file name holding a stray byte, a lone
surrogate (ED A0 80, or %ED%A0%80 in an RFC 8187 filename*) or a NUL is a 400 naming the field, and nothing is
stored (werkzeug would otherwise read such bytes as U+FFFD, or as Latin-1, and store text other than sent). The
uploaded file's CONTENT is binary and is not checked (EU Annex 11 §5, 21 CFR 11.10(a))."""
from __future__ import annotations

import html

import pytest

from tests.conftest import csrf_token, sign_in
from tests.support.documents import PDF_BYTES, counts, stored_files

BOUNDARY = "edms-7MA4YWxkTrZu0gW"
NAME = b"CoA L2026-0412"
# (what, the part's header bytes after Content-Disposition: form-data; ..., its value, the field the 400 names)
HOSTILE = [
    ("file name with a stray byte", b'name="file"; filename="' + NAME + b'\xff.pdf"', PDF_BYTES, "a part's header"),
    ("file name with a lone surrogate", b'name="file"; filename="' + NAME + b'\xed\xa0\x80.pdf"', PDF_BYTES,
     "a part's header"),
    ("RFC 8187 file name with a lone surrogate", b"name=\"file\"; filename*=UTF-8''CoA%ED%A0%80.pdf", PDF_BYTES,
     "file (its file name)"),
    ("file name with a NUL", b'name="file"; filename="' + NAME + b'\x00.pdf"', PDF_BYTES, "file (its file name)"),
    ("declared SHA-256 with a lone surrogate", b'name="sha256"', b"ab\xed\xa0\x80", "sha256"),
    ("declared SHA-256 with a stray byte", b'name="sha256"', b"ab\xff", "sha256"),
    ("declared SHA-256 in Latin-1", b'name="sha256"\r\nContent-Type: text/plain; charset=iso-8859-1', b"caf\xe9",
     "sha256"),
]


def multipart(*parts: tuple[bytes, bytes]) -> dict:
    body = b"".join(b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: form-data; " + header + b"\r\n\r\n" + value
                    + b"\r\n" for header, value in parts) + b"--" + BOUNDARY.encode() + b"--\r\n"
    return {"data": body, "content_type": f"multipart/form-data; boundary={BOUNDARY}"}


def _file(header: bytes, value: bytes) -> list[tuple[bytes, bytes]]:
    """The hostile part, with a sound file part beside it when the hostile part is not the file."""
    if b'name="file"' in header:
        return [(header, value)]
    return [(b'name="file"; filename="CoA L2026-0412.pdf"\r\nContent-Type: application/pdf', PDF_BYTES), (header, value)]


@pytest.mark.req("A11-5")
@pytest.mark.req("11.10(a)")
@pytest.mark.parametrize(("what", "header", "value", "field"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_an_upload_whose_text_is_not_utf8_is_a_400_naming_the_field_and_stores_nothing(
        app, client, draft, what, header, value, field):
    api, document_id = draft
    sign_in(client, "kenji.sato")
    token = csrf_token(client.get(f"/documents/{document_id}").get_data(as_text=True))
    before = counts(app)

    refused = api.post(f"/documents/{document_id}/attachments", **multipart(*_file(header, value)))
    assert refused.status_code == 400, refused.get_data(as_text=True)
    assert refused.json["error"]["message"] == f"'{field}' is not valid UTF-8 text (a lone surrogate or a stray byte)."

    page = client.post(f"/documents/{document_id}/attachments",
                       **multipart((b'name="csrf_token"', token.encode()), *_file(header, value)))
    assert page.status_code == 400
    assert f"'{field}' is not valid UTF-8 text" in html.unescape(page.get_data(as_text=True))
    assert counts(app) == before and stored_files(app) == []


@pytest.mark.req("A11-5")
def test_a_japanese_file_name_in_utf8_is_stored_and_the_binary_content_is_not_read_as_text(app, client, draft):
    api, document_id = draft
    name = "試験成績書 L2026-0412.pdf"
    content = PDF_BYTES.replace(b"%%EOF", b"%\xff\xfe\xed\xa0\x80\x00\n%%EOF")  # bytes no text may hold
    header = b'name="file"; filename="' + name.encode() + b'"\r\nContent-Type: application/pdf'
    stored = api.post(f"/documents/{document_id}/attachments", **multipart((header, content)))
    assert stored.status_code == 201, stored.json
    assert stored.json["name"] == name
    sign_in(client, "kenji.sato")
    token = csrf_token(client.get(f"/documents/{document_id}").get_data(as_text=True))
    page = client.post(f"/documents/{document_id}/attachments",
                       **multipart((b'name="csrf_token"', token.encode()), (header, content)))
    assert page.status_code == 302
    version = api.get(f"/documents/{document_id}/versions/1").json
    assert [a["name"] for a in version["attachments"]] == [name, name]
    download = api.client.get(version["attachments"][0]["url"], headers=api.headers)
    assert download.data == content
