"""One signed history per document and per case: versions, submissions, signatures with their manifestation
and verification, refusals with reasons, status changes and every audit event, each tied to its version."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text

from edms.documents import models as dm
from edms.inspection.timeline import case_timeline, document_timeline
from edms.signatures.models import Signature
from edms.signatures.presentation import current_trust
from tests.support.documents import Api
from tests.support.inspection import INSPECTOR, inspector, inspector_client  # noqa: F401
from tests.support.signed_case import REFUSAL, REVISION


def timeline_of(app, document_id: int):
    services = app.extensions["edms"]
    with services.sessions() as session:
        document = session.get(dm.Document, document_id)
        return document_timeline(session, document, current_trust(session, services.settings), services.document_types)


@pytest.mark.req("11.50(a)")
@pytest.mark.req("11.10(e)")
@pytest.mark.req("A11-9")
def test_document_timeline_tells_the_whole_signed_history_in_order(app, signed_case):
    timeline = timeline_of(app, signed_case.documents[0])
    kinds = [(entry.kind, entry.version) for entry in timeline.entries if entry.kind != "event"]
    assert kinds == [
        ("version", 1), ("submission", 1), ("signature", 1), ("rejection", 1), ("status", 1),
        ("version", 2), ("submission", 2), ("signature", 2), ("signature", 2), ("signature", 2), ("status", 2),
        ("version", 3), ("submission", 3), ("signature", 3), ("signature", 3), ("signature", 3), ("status", 3),
    ]
    seqs = [entry.seq for entry in timeline.entries]
    assert seqs == sorted(seqs) and None not in seqs
    refusal = next(entry for entry in timeline.entries if entry.kind == "rejection")
    assert refusal.reason == REFUSAL and refusal.signature.printed_name == "Emi Nakamura"
    assert refusal.signature.verdict.ok  # a refusal is a signed act too
    revised = [entry for entry in timeline.entries if entry.action == "document.revised"]
    assert [entry.reason for entry in revised] == [REVISION, REVISION]
    approval = [entry for entry in timeline.entries if entry.kind == "signature"][-1]
    assert (approval.signature.printed_name, approval.signature.meaning, approval.signature.role) == \
        ("Hiroshi Yamada", "approved", "qa")
    assert approval.signature.verdict.ok and approval.version == 3
    assert timeline.invalid_signatures == []


@pytest.mark.req("11.10(e)")
def test_case_timeline_joins_every_document_and_the_case_events(app, signed_case):
    services = app.extensions["edms"]
    with services.sessions() as session:
        timeline = case_timeline(session, signed_case.case_id, current_trust(session, services.settings),
                                 services.document_types)
    assert [document.id for document in timeline.documents] == signed_case.documents
    assert timeline.entries[0].action == "case.created" and timeline.entries[0].document is None
    assert {entry.document.id for entry in timeline.entries if entry.document} == set(signed_case.documents)
    assert len(timeline.signatures) == len(signed_case.signatures)


@pytest.mark.req("11.70")
@pytest.mark.req("11.10(a)")
def test_a_signature_moved_to_another_record_shows_invalid_and_unrecorded_there(app, signed_case):
    services = app.extensions["edms"]
    oos, deviation = signed_case.documents[:2]
    with services.sessions() as session:
        target = session.get(dm.Document, deviation).version(1)
        signature = session.scalar(select(Signature).where(Signature.document_id == oos).order_by(Signature.id).limit(1))
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("ALTER TABLE signatures DISABLE TRIGGER USER"))
        else:
            for name in session.scalars(text("SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='signatures'")):
                session.execute(text(f'DROP TRIGGER "{name}"'))
        session.execute(text("UPDATE signatures SET document_id = :d, version_id = :v, version = 1 WHERE id = :id"),
                        {"d": deviation, "v": target.id, "id": signature.id})
        session.commit()
    timeline = timeline_of(app, deviation)
    (moved,) = timeline.invalid_signatures
    assert moved.signature_id == signature.signature_id and "copied or moved" in moved.verdict.text
    (entry,) = [entry for entry in timeline.entries if entry.signature is moved]
    assert entry.unrecorded and entry.version == 1


def test_timeline_pages_link_every_entry_to_its_version(app, signed_case, inspector_client):
    document_id = signed_case.documents[0]
    page = inspector_client.get(f"/inspection/documents/{document_id}").get_data(as_text=True)
    for version in (1, 2, 3):
        assert f'href="/documents/{document_id}/versions/{version}"' in page
    assert REFUSAL in page and "Refused to sign" in page and "Hiroshi Yamada (hiroshi.yamada)" in page
    assert f'method="post" action="/inspection/documents/{document_id}/export"' in page
    assert "inspection.viewed" not in page  # access records only on request
    shown = inspector_client.get(f"/inspection/documents/{document_id}?access=1").get_data(as_text=True)
    assert "inspection.viewed" in shown
    case = inspector_client.get(f"/inspection/cases/{signed_case.case_id}").get_data(as_text=True)
    assert "case.created" in case and all(number in case for number in signed_case.numbers.values())
    assert inspector_client.get("/inspection/cases/999999").status_code == 404
    signed_version = inspector_client.get(f"/documents/{document_id}/versions/2").get_data(as_text=True)
    assert "Hiroshi Yamada" in signed_version and 'id="sign-version"' not in signed_version


def test_api_timeline_carries_manifestations_and_events(app, client, signed_case, inspector):
    api = Api(client, INSPECTOR[0])
    body = api.get(f"/cases/{signed_case.case_id}/timeline").json
    signatures = [entry["signature"] for entry in body["entries"] if entry["signature"]]
    assert len(signatures) == len(signed_case.signatures)
    assert all(item["verification"]["valid"] for item in signatures)
    assert all(entry["event"]["hash"] for entry in body["entries"])
    assert api.get("/cases/999999/timeline").status_code == 404
