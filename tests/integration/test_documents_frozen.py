"""A submitted version is frozen for ever: the pages, the API, the ORM and the database each refuse to
change its content or attachments, and nothing controlled is ever deleted (21 CFR 11.10(a), 11.10(c),
11.10(e); ALCOA+ original and enduring)."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from edms.audit import AuditContext
from edms.documents import models as m
from edms.documents.operations import mark_approved
from edms.timeutil import utc_now
from tests.conftest import csrf_token, sign_in
from tests.support.documents import PDF_BYTES, counts, create_with_references, sha256


@pytest.fixture
def frozen(app, client, people):
    """OOS-2026-0001 version 1 with its certificate of analysis, submitted for review."""
    api, created, values = create_with_references(app, client, people, "oos_notification")
    document_id = created["id"]
    assert api.post(f"/documents/{document_id}/attachments",
                    data={"file": (io.BytesIO(PDF_BYTES), "CoA L2026-0412.pdf")}).status_code == 201
    submitted = api.post(f"/documents/{document_id}/submit").json
    return api, document_id, values, submitted


def _stored(app, document_id: int) -> tuple[str, str, list[tuple[str, object]]]:
    with app.extensions["edms"].sessions() as session:
        version = session.get(m.Document, document_id).version(1)
        return version.content, version.content_sha256, [(a.sha256, a.removed_at) for a in version.all_attachments]


@pytest.mark.req("11.10(c)")
@pytest.mark.req("11.10(e)")
def test_a_frozen_version_cannot_be_edited_through_the_pages(app, client, frozen):
    _api, document_id, values, _submitted = frozen
    before = _stored(app, document_id)
    sign_in(client, "kenji.sato")
    detail = client.get(f"/documents/{document_id}").get_data(as_text=True)
    assert 'id="edit-draft"' not in detail and 'id="upload-form"' not in detail  # not offered...
    token = csrf_token(detail)
    # ...and refused when sent anyway.
    edited = client.post(f"/documents/{document_id}/edit", data={"csrf_token": token, "title": "Changed",
                                                                 "field_result": "80.0"}, follow_redirects=True)
    assert "frozen" in edited.get_data(as_text=True)
    uploaded = client.post(f"/documents/{document_id}/attachments", data={
        "csrf_token": token, "file": (io.BytesIO(b"retest 71.4 %\n"), "retest.txt")}, follow_redirects=True)
    assert "frozen" in uploaded.get_data(as_text=True)
    with app.extensions["edms"].sessions() as session:
        attachment_id = session.get(m.Document, document_id).version(1).attachments[0].id
    removed = client.post(f"/documents/{document_id}/attachments/{attachment_id}/remove", data={"csrf_token": token},
                          follow_redirects=True)
    assert "frozen" in removed.get_data(as_text=True)
    resubmitted = client.post(f"/documents/{document_id}/submit", data={"csrf_token": token}, follow_redirects=True)
    assert "frozen" in resubmitted.get_data(as_text=True)
    assert _stored(app, document_id) == before


@pytest.mark.req("11.10(c)")
@pytest.mark.req("11.10(e)")
def test_a_frozen_version_cannot_be_changed_through_the_api(app, client, frozen):
    api, document_id, values, submitted = frozen
    before, rows = _stored(app, document_id), counts(app)
    resubmitted = api.post(f"/documents/{document_id}/submit")
    assert resubmitted.status_code == 409 and resubmitted.json["error"]["code"] == "conflict"
    attached = api.post(f"/documents/{document_id}/attachments", data={"file": (io.BytesIO(PDF_BYTES), "again.pdf")})
    assert attached.status_code == 409
    edited = api.put(f"/documents/{document_id}", json={"values": dict(values, result="80.0")})
    assert edited.status_code == 400 and edited.json["error"]["code"] == "reason_required"
    assert _stored(app, document_id) == before and counts(app) == rows
    assert api.get(f"/documents/{document_id}/versions/1").json["content_sha256"] == submitted["content_sha256"]


@pytest.mark.req("11.10(c)")
@pytest.mark.req("11.10(a)")
def test_a_frozen_version_cannot_be_changed_through_the_orm(app, frozen):
    _api, document_id, _values, _submitted = frozen
    before = _stored(app, document_id)
    sessions = app.extensions["edms"].sessions
    changes = (
        lambda version: setattr(version, "content", version.content.replace("72.0", "81.0")),
        lambda version: setattr(version, "content_sha256", "0" * 64),
        lambda version: setattr(version, "title", "Viability within specification"),
        lambda version: setattr(version.attachments[0], "removed_at", utc_now()),
        lambda version: setattr(version.attachments[0], "sha256", sha256(b"other bytes")),
        lambda version: version.all_attachments.append(m.Attachment(
            sha256=sha256(b"x"), display_name="late.pdf", media_type="application/pdf", size=1,
            added_by=version.created_by, added_at=utc_now())),
    )
    for change in changes:
        with sessions() as session:
            version = session.get(m.Document, document_id).version(1)
            change(version)
            with pytest.raises(m.FrozenRecordError, match="frozen"):
                session.flush()
    for target in (lambda d: d, lambda d: d.version(1), lambda d: d.version(1).attachments[0]):
        with sessions() as session:
            session.delete(target(session.get(m.Document, document_id)))
            with pytest.raises(m.FrozenRecordError, match="never deleted"):
                session.flush()
    assert _stored(app, document_id) == before


def test_a_frozen_version_still_moves_through_its_statuses(app, frozen):
    """Only content is frozen: the workflow may still approve the version."""
    _api, document_id, _values, _submitted = frozen
    with app.extensions["edms"].sessions() as session:
        document = session.get(m.Document, document_id)
        mark_approved(session, AuditContext.system("workflow test"), document, document.version(1))
        session.commit()
    with app.extensions["edms"].sessions() as session:
        assert session.get(m.Document, document_id).version(1).status == "approved"


@pytest.mark.req("11.10(c)")
@pytest.mark.req("11.10(a)")
@pytest.mark.parametrize("statement", [
    "UPDATE document_versions SET content = replace(content, '72.0', '81.0') WHERE id = :version_id",
    "UPDATE document_versions SET content_sha256 = NULL WHERE id = :version_id",
    "UPDATE attachments SET sha256 = 'ffff' WHERE version_id = :version_id",
    "UPDATE attachments SET removed_at = added_at WHERE version_id = :version_id",
    "INSERT INTO attachments (version_id, sha256, display_name, media_type, size, added_by, added_at) "
    "SELECT version_id, sha256, 'late.pdf', media_type, size, added_by, added_at FROM attachments WHERE version_id = :version_id",
    "DELETE FROM attachments WHERE version_id = :version_id",
    "DELETE FROM document_versions WHERE id = :version_id",
])
def test_a_frozen_version_cannot_be_changed_with_sql_typed_by_hand(app, frozen, statement):
    _api, document_id, _values, _submitted = frozen
    before = _stored(app, document_id)
    with app.extensions["edms"].sessions() as session:
        version_id = session.get(m.Document, document_id).version(1).id
    with app.extensions["edms"].engine.connect() as connection:
        with pytest.raises(DBAPIError, match="frozen|append-only"):
            connection.execute(text(statement), {"version_id": version_id})
        connection.rollback()
    assert _stored(app, document_id) == before
