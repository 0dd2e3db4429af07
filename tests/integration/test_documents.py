"""Controlled document types as data, end to end: every shipped type is created with realistic content,
checked field by field, frozen on submission, revised with a reason, compared and printed, through the
API and the pages (21 CFR 11.10(b), 11.10(e); EU Annex 11 §5, §8, §9; ER/ES legibility)."""
from __future__ import annotations

import io
import json
import re

import pytest
from docx import Document as DocxDocument
from markupsafe import escape
from pypdf import PdfReader
from sqlalchemy import select

from edms.audit.models import AuditEvent
from edms.config import load_settings
from edms.documents import models as m
from edms.documents.queries import version_hash
from edms.documents.renditions import display_field
from edms.documents.types import load_document_types
from tests.conftest import csrf_token, sign_in
from tests.support.documents import (
    PDF_BYTES,
    Api,
    actions_after,
    author_of,
    bad_value,
    counts,
    create_with_references,
    ensure_author,
    form_data,
    newest_event_seq,
    realistic_values,
    sha256,
    title_for,
)

TYPE_KEYS = sorted(load_document_types(load_settings("testing").forms_dir))


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def docx_texts(data: bytes) -> tuple[list[str], str]:
    """The header of every section, and all body text (paragraphs and table cells)."""
    document = DocxDocument(io.BytesIO(data))
    headers = [section.header.paragraphs[0].text for section in document.sections]
    parts = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        parts += [cell.text for row in table.rows for cell in row.cells]
    return headers, "\n".join(parts)


def test_the_api_offers_every_shipped_type_with_english_and_japanese_labels(app, client, people):
    people.make("kenji.sato", "author")
    listing = Api(client, "kenji.sato").get("/document-types")
    assert listing.status_code == 200
    offered = {item["key"]: item for item in listing.json["items"]}
    assert sorted(offered) == TYPE_KEYS == sorted(app.extensions["edms"].document_types)
    oos = offered["oos_notification"]
    assert oos["numbering"] == "OOS-{year}-{seq:04d}"
    lot = next(field for field in oos["fields"] if field["name"] == "lot")
    assert lot["label"] == {"en": "Lot number", "ja": "ロット番号"} and lot["pattern"] and lot["required"]
    assert [step["roles"] for step in oos["steps"]] == [["author"], ["qa"], ["qa"]]
    for item in offered.values():
        assert all(field["label"]["en"] and field["label"]["ja"] for field in item["fields"])


@pytest.mark.req("11.10(b)")
@pytest.mark.req("ERES-legibility")
@pytest.mark.req("11.10(e)")
@pytest.mark.req("A11-8")
@pytest.mark.req("A11-9")
@pytest.mark.parametrize("type_key", TYPE_KEYS)
def test_each_type_is_created_submitted_revised_with_a_reason_compared_and_printed(app, client, people, type_key):
    doc_type = app.extensions["edms"].document_types[type_key]
    api, created, values = create_with_references(app, client, people, type_key)
    document_id, number = created["id"], created["number"]
    assert doc_type.number_pattern.fullmatch(number) and created["status"] == "draft"
    assert api.get(f"/documents/{document_id}/versions/1").json["values"] == doc_type.canonical(
        doc_type.validate(values, zone="Asia/Tokyo").values)

    attached = api.post(f"/documents/{document_id}/attachments",
                        data={"file": (io.BytesIO(PDF_BYTES), "CoA L2026-0412.pdf"), "sha256": sha256(PDF_BYTES)})
    assert attached.status_code == 201 and attached.json["sha256"] == sha256(PDF_BYTES)

    submitted = api.post(f"/documents/{document_id}/submit")
    assert submitted.status_code == 200 and submitted.json["status"] == "in_review"
    first_hash = submitted.json["content_sha256"]
    with app.extensions["edms"].sessions() as session:
        document = session.get(m.Document, document_id)
        assert version_hash(document, document.version(1)) == first_hash  # content + attachments, as stored

    # A change after submission is a new version, with its reason; the first stays as it was.
    changed = next(field.name for field in doc_type.fields
                   if field.type in ("text", "textarea") and not field.pattern and values[field.name])
    revised_values = dict(values, **{changed: f"{values[changed]} (corrected)"})
    revised = api.put(f"/documents/{document_id}",
                      json={"values": revised_values, "reason": "QA review: wording corrected (deviation DEV-2026-0003)"})
    assert revised.status_code == 201, revised.json
    assert revised.json["version"] == 2 and revised.json["status"] == "draft"
    assert revised.json["attachments"][0]["sha256"] == sha256(PDF_BYTES)  # carried into the new version
    first = api.get(f"/documents/{document_id}/versions/1").json
    assert first["status"] == "superseded" and first["content_sha256"] == first_hash
    assert first["values"][changed] == values[changed]

    difference = api.get(f"/documents/{document_id}/diff", query_string={"a": 1, "b": 2}).json
    assert [change["field"] for change in difference["changes"]] == [changed]
    assert difference["changes"][0]["new"].endswith("(corrected)")
    assert difference["reason"].startswith("QA review")

    assert api.post(f"/documents/{document_id}/submit").status_code == 200
    second = api.get(f"/documents/{document_id}/versions/2").json
    assert second["content_sha256"] not in (None, first_hash)
    history = api.get(f"/documents/{document_id}/versions").json["items"]
    assert [(v["version"], v["status"]) for v in history] == [(1, "superseded"), (2, "in_review")]

    expected = [(field.label.en, display_field(field, second["values"][field.name], "en", "Asia/Tokyo"))
                for field in doc_type.fields]

    pdf = api.get(f"/documents/{document_id}/versions/2/rendition.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    pages = pdf_pages(pdf.data)
    for index, text in enumerate(pages, start=1):
        assert f"{number} | Version 2 | Status: In review" in text
        assert f"Page {index} of {len(pages)}" in text
    body = flat(" ".join(pages))
    for label, shown in expected:
        assert flat(label) in body and flat(shown) in body, label
    assert f"SHA-256 {sha256(PDF_BYTES)}" in body
    assert "This record has been revised" in body and "QA review: wording corrected" in body  # Annex 11 §8
    assert second["content_sha256"] in body.replace(" ", "")

    docx = api.get(f"/documents/{document_id}/versions/2/rendition.docx")
    assert docx.status_code == 200
    headers, text = docx_texts(docx.data)
    assert headers and all(header == f"{number} | Version 2 | Status: In review" for header in headers)
    for label, shown in expected:
        assert label in text and shown in text, label
    assert sha256(PDF_BYTES) in text and second["content_sha256"] in text
    assert "QA review: wording corrected" in text
    assert DocxDocument(io.BytesIO(docx.data)).core_properties.identifier == number

    # The superseded first version is still printed as it was, from its own stored content.
    old_headers, old_copy = docx_texts(api.get(f"/documents/{document_id}/versions/1/rendition.docx").data)
    assert old_headers[0] == f"{number} | Version 1 | Status: Superseded" and first_hash in old_copy
    assert values[changed] in old_copy and revised_values[changed] not in old_copy


@pytest.mark.req("ERES-legibility")
def test_a_japanese_copy_prints_the_japanese_labels(app, client, people):
    api, created, _values = create_with_references(app, client, people, "oos_notification")
    pdf = api.get(f"/documents/{created['id']}/versions/1/rendition.pdf", query_string={"lang": "ja"})
    text = flat(" ".join(pdf_pages(pdf.data)))
    text = text.replace(" ", "")  # extraction may space out Japanese glyphs
    assert f"{created['number']}|第1版|状態:下書き" in text
    assert "ロット番号" in text and "細胞生存率" in text and "製造販売業者の推奨事項" in text
    _headers, docx = docx_texts(api.get(f"/documents/{created['id']}/versions/1/rendition.docx",
                                        query_string={"lang": "ja"}).data)
    assert "患者識別コード（仮名化）" in docx and "PT-7Q4X" in docx


@pytest.mark.req("A11-5")
@pytest.mark.req("ALCOA+")
@pytest.mark.parametrize("type_key", TYPE_KEYS)
def test_each_type_refuses_bad_and_missing_values_field_by_field_and_stores_only_valid_content(app, client, people,
                                                                                               type_key):
    types = app.extensions["edms"].document_types
    doc_type = types[type_key]
    ensure_author(people, doc_type)
    api = Api(client, author_of(doc_type))
    sign_in(client, author_of(doc_type))
    before = counts(app)

    bad = {field.name: bad_value(field, types) for field in doc_type.fields}
    refused = api.post("/documents", json={"type": type_key, "title": "   ", "values": bad})
    assert refused.status_code == 400 and refused.json["error"]["code"] == "validation_failed"
    assert set(refused.json["error"]["details"]) == {"title", *bad}

    missing = api.post("/documents", json={"type": type_key, "title": title_for(doc_type), "values": {}})
    assert missing.status_code == 400
    assert missing.json["error"]["details"] == {
        field.name: "This field is required." for field in doc_type.fields if field.required
    }

    unknown = api.post("/documents", json={"type": type_key, "title": title_for(doc_type),
                                           "values": dict(realistic_values(doc_type), patient_name="Taro Yamada")})
    assert unknown.status_code == 400 and "patient_name" in unknown.json["error"]["details"]

    # The page refuses the same values the same way, each message beside its field.
    page = client.get(f"/documents/new/{type_key}").get_data(as_text=True)
    for field in doc_type.fields:
        assert str(escape(field.label.en)) in page
    shown = client.post(f"/documents/new/{type_key}", data=form_data(doc_type, "", bad, csrf_token(page)))
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200 and "nothing was saved" in html
    for name in ("title", *bad):
        assert f'id="error-{name}"' in html, name
    assert counts(app) == before  # no document, version, number or audit event

    # Realistic values are stored, and the page stores exactly what the API stores.
    _api, created, values = create_with_references(app, client, people, type_key)
    response = client.post(f"/documents/new/{type_key}",
                           data=form_data(doc_type, title_for(doc_type), values, csrf_token(page)))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert "created as a draft" in client.get(response.headers["Location"]).get_data(as_text=True)
    with app.extensions["edms"].sessions() as session:
        through_page = session.scalars(select(m.Document).order_by(m.Document.id.desc())).first()
        through_api = session.get(m.Document, created["id"])
        assert json.loads(through_page.latest.content) == json.loads(through_api.latest.content)


def test_the_document_page_shows_japanese_labels_when_the_language_is_japanese(app, client, people):
    _api, created, _values = create_with_references(app, client, people, "oos_notification")
    sign_in(client, "kenji.sato")
    home = client.get("/").get_data(as_text=True)
    client.post("/language", data={"language": "ja", "csrf_token": csrf_token(home)})
    page = client.get(f"/documents/{created['id']}").get_data(as_text=True)
    assert "ロット番号" in page and "細胞生存率" in page


@pytest.mark.req("ALCOA+")
def test_references_must_name_documents_that_exist(app, client, people):
    types = app.extensions["edms"].document_types
    ensure_author(people, types["physician_justification"])
    physician = Api(client, "haruto.ito")
    values = realistic_values(types["physician_justification"], {"oos_notification": ["OOS-2026-0042"]})
    before = counts(app)
    refused = physician.post("/documents", json={"type": "physician_justification",
                                                  "title": title_for(types["physician_justification"]), "values": values})
    assert refused.status_code == 400
    assert refused.json["error"]["details"] == {"oos_notification": "No document has the number OOS-2026-0042."}
    assert counts(app) == before

    _api, oos, _values = create_with_references(app, client, people, "oos_notification")
    accepted = physician.post("/documents", json={
        "type": "physician_justification", "title": title_for(types["physician_justification"]),
        "values": realistic_values(types["physician_justification"], {"oos_notification": [oos["number"]]})})
    assert accepted.status_code == 201, accepted.json


def _events(app, document_id: int) -> list[AuditEvent]:
    with app.extensions["edms"].sessions() as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.object_type == "document",
                                                        AuditEvent.object_id == str(document_id))
                               .order_by(AuditEvent.seq)).all()


@pytest.mark.req("11.10(e)")
@pytest.mark.req("A11-9")
def test_every_change_leaves_its_audit_event_with_old_and_new_values(app, client, people):
    api, created, values = create_with_references(app, client, people, "oos_notification")
    document_id = created["id"]
    author_id = api.get("/me").json["id"]
    api.put(f"/documents/{document_id}", json={"values": dict(values, result="72.4")})
    api.post(f"/documents/{document_id}/attachments",
             data={"file": (io.BytesIO(PDF_BYTES), "CoA.pdf"), "sha256": sha256(PDF_BYTES)})
    api.post(f"/documents/{document_id}/submit")
    api.put(f"/documents/{document_id}", json={"values": dict(values, result="72.0"), "reason": "Retest result reported"})
    api.post(f"/documents/{document_id}/withdraw", json={"reason": "Superseded by lot L2026-0413 decision"})

    events = _events(app, document_id)
    # Submission also freezes the version's PDF (its own audited revision, issue #14).
    frozen = next(event for event in events if event.action == "document.pdf_revision")
    assert json.loads(frozen.changes)["signed_pdf"]["new"]["kind"] == "frozen" and frozen.document_version == 1
    events = [event for event in events if event is not frozen]
    assert [event.action for event in events] == [
        "document.created", "document.draft_saved", "document.attachment_added", "document.submitted",
        "document.revised", "document.draft_saved", "document.withdrawn",
    ]
    assert all(event.actor_id == author_id and event.actor_name == "Kenji Sato" for event in events)
    changes = [json.loads(event.changes) for event in events]
    assert changes[0]["lot"] == {"old": None, "new": "L2026-0412"}
    assert changes[1] == {"result": {"old": "72.0", "new": "72.4"}}
    assert changes[2]["attachment"]["new"]["sha256"] == sha256(PDF_BYTES)
    assert changes[3]["status"] == {"old": "draft", "new": "in_review"} and changes[3]["content_sha256"]["new"]
    assert changes[4] == {"version": {"old": 1, "new": 2}} and events[4].reason == "Retest result reported"
    assert changes[5] == {"result": {"old": "72.4", "new": "72.0"}} and events[5].document_version == 2
    assert changes[6]["status"]["new"] == "withdrawn" and events[6].reason.startswith("Superseded")


@pytest.mark.req("A11-9")
@pytest.mark.req("11.10(e)")
def test_a_new_version_or_a_withdrawal_without_a_reason_is_refused_and_changes_nothing(app, client, people):
    api, created, values = create_with_references(app, client, people, "oos_notification")
    document_id = created["id"]
    api.post(f"/documents/{document_id}/submit")
    sign_in(client, "kenji.sato")
    before = counts(app)
    for body in ({"values": values}, {"values": values, "reason": "   "}):
        refused = api.put(f"/documents/{document_id}", json=body)
        assert refused.status_code == 400 and refused.json["error"]["code"] == "reason_required"
        assert refused.json["error"]["details"] == {"reason": "A reason is required for a new version."}
    # A reason that is not text is refused by the body's published schema, before the view runs.
    refused = api.put(f"/documents/{document_id}", json={"values": values, "reason": 7})
    assert refused.status_code == 400 and refused.json["error"]["code"] == "invalid_request"
    assert "reason" in refused.json["error"]["details"]
    assert api.post(f"/documents/{document_id}/withdraw", json={}).status_code == 400

    page = client.get(f"/documents/{document_id}").get_data(as_text=True)
    response = client.post(f"/documents/{document_id}/revise", data={"reason": "", "csrf_token": csrf_token(page)},
                           follow_redirects=True)
    assert "A reason is required for a new version." in response.get_data(as_text=True)
    assert counts(app) == before
    assert api.get(f"/documents/{document_id}").json["current_version"] == 1


@pytest.mark.req("11.10(g)")
def test_inspectors_and_administrators_read_documents_but_never_write_them(app, client, people, admin):
    _api, created, values = create_with_references(app, client, people, "oos_notification")
    people.make("mariko.ueda", "inspector")
    inspector = Api(client, "mariko.ueda")
    administrator = Api(client, "daisuke.kato")
    document_id = created["id"]
    assert inspector.get(f"/documents/{document_id}/versions/1").status_code == 200
    before = counts(app)
    last_event = newest_event_seq(app)
    for caller in (inspector, administrator):
        assert caller.post("/documents", json={"type": "oos_notification", "title": "x", "values": values}).status_code == 403
        assert caller.put(f"/documents/{document_id}", json={"values": values}).status_code == 403
        assert caller.post(f"/documents/{document_id}/submit").status_code == 403
        assert caller.post(f"/documents/{document_id}/withdraw", json={"reason": "x"}).status_code == 403
    # Nothing written but the audit trail's record of each refusal (11.10(e)).
    assert actions_after(app, last_event) == ["access.refused"] * 8
    after = counts(app)
    assert {k: v for k, v in after.items() if k != AuditEvent.__tablename__} == {
        k: v for k, v in before.items() if k != AuditEvent.__tablename__}


def test_another_author_cannot_edit_someone_elses_draft(app, client, people):
    _api, created, values = create_with_references(app, client, people, "oos_notification")
    people.make("yui.kobayashi", "author")
    other = Api(client, "yui.kobayashi")
    refused = other.put(f"/documents/{created['id']}", json={"values": dict(values, result="75.0")})
    assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"


def test_the_openapi_document_describes_the_document_api(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"get", "put"} <= set(paths["/documents/{document_id}"])
    for path in ("/document-types", "/documents", "/documents/{document_id}/submit", "/documents/{document_id}/withdraw",
                 "/documents/{document_id}/versions", "/documents/{document_id}/versions/{number}",
                 "/documents/{document_id}/diff", "/documents/{document_id}/versions/{number}/rendition.{fmt}",
                 "/documents/{document_id}/attachments",
                 "/documents/{document_id}/versions/{number}/attachments/{attachment_id}"):
        assert path in paths, path
    rendition = paths["/documents/{document_id}/versions/{number}/rendition.{fmt}"]["get"]
    [fmt] = [parameter for parameter in rendition["parameters"] if parameter["name"] == "fmt"]
    assert fmt["schema"]["enum"] == ["pdf", "docx"]
    upload = paths["/documents/{document_id}/attachments"]["post"]["requestBody"]["content"]
    assert "sha256" in upload["multipart/form-data"]["schema"]["properties"]
