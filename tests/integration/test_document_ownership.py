"""Who may change a record (issue #12): only its owner edits and revises it; holders of a signing role may
refuse it but never rewrite it, on the pages and over the API. Administrators never author (PIC/S PI 041
§9.5): when the owner is absent or gone, an administrator hands the record to another active writer of its
type, with a reason, audited. The owner is told of every revision, refusal, approval and withdrawal."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from edms.application import drafting
from edms.application import signing as signing_use_cases
from edms.application.unit_of_work import command
from edms.audit.models import AuditEvent
from edms.documents import models as dm
from edms.documents.errors import NotPermitted, ReasonRequired
from edms.notifications.models import Notification
from edms.signatures.ceremony import Credentials
from edms.users.models import User
from tests.conftest import PASSWORD, csrf_token, sign_in
from tests.integration.signing_fixtures import OOS, context
from tests.support.documents import Api
from tests.support.examples import VALUES

REFUSAL = "The viability result is not traced to the batch record: cite BR-L2026-0412."
REVISION = "Viability traced to batch record BR-L2026-0412, page 14."
HANDOVER = "Kenji Sato is on long-term leave from 1 December; Shota Fujii continues his OOS records."


def _notifications(services, user: User, kind: str) -> list[Notification]:
    with services.sessions() as session:
        return list(session.scalars(select(Notification).where(Notification.recipient_id == user.id,
                                                               Notification.kind == kind).order_by(Notification.id)))


def _events(services, action: str) -> list[AuditEvent]:
    with services.sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def _revise(services, person: User, document_id: int, reason: str = REVISION) -> None:
    with command(services.sessions) as session:
        drafting.revise(services, session, context(person), session.get(User, person.id),
                        session.get(dm.Document, document_id), reason)


def _transfer(services, admin: User, document_id: int, new_owner: User, reason: str = HANDOVER) -> None:
    with command(services.sessions) as session:
        drafting.transfer_ownership(services, session, context(admin), session.get(User, admin.id),
                                    session.get(dm.Document, document_id), session.get(User, new_owner.id), reason)


def _sign(services, person: User, document_id: int, *, refusal: str | None = None) -> None:
    """Sign (or refuse) the step due through the use case the pages call, so its notices follow."""
    with command(services.sessions) as session:
        user, document = session.get(User, person.id), session.get(dm.Document, document_id)
        credentials = Credentials(password=PASSWORD, username=user.username)
        if refusal:
            signing_use_cases.refuse(services, session, context(user), user, document, document.latest, credentials,
                                     reason=refusal)
        else:
            signing_use_cases.sign(services, session, context(user), user, document, document.latest, credentials)


@pytest.fixture
def services(app):
    return app.extensions["edms"]


@pytest.mark.req("11.10(g)")
def test_a_qa_signer_refuses_someone_elses_record_but_cannot_revise_it_and_its_owner_can(signing, services):
    signing.sign(signing.author)
    signing.sign(signing.reviewer, kind="reject", reason=REFUSAL)
    with pytest.raises(NotPermitted, match="Only the document's owner may change it"):
        _revise(services, signing.reviewer, signing.document_id)
    assert signing.document().current_version == 1
    _revise(services, signing.author, signing.document_id)
    assert signing.document().current_version == 2 and signing.document().latest.created_by == signing.author.id


@pytest.mark.req("11.10(g)")
def test_over_the_api_a_qa_user_can_neither_revise_nor_edit_the_authors_record(signing, client):
    signing.sign(signing.author)
    qa = Api(client, signing.reviewer.username)
    response = qa.put(f"/documents/{signing.document_id}", json={"values": dict(VALUES[OOS]), "reason": "Rewritten"})
    assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"
    assert signing.document().current_version == 1
    owner = Api(client, signing.author.username)
    response = owner.put(f"/documents/{signing.document_id}", json={"values": dict(VALUES[OOS]), "reason": REVISION})
    assert response.status_code == 201 and response.json["version"] == 2
    # The new draft is the owner's alone: the QA user cannot save over it either.
    response = qa.put(f"/documents/{signing.document_id}", json={"values": dict(VALUES[OOS])})
    assert response.status_code == 403


@pytest.mark.req("11.10(g)")
def test_the_version_page_offers_a_new_version_to_the_owner_only(signing, client):
    signing.sign(signing.author)
    sign_in(client, signing.reviewer.username)
    assert 'id="revise-form"' not in client.get(f"/documents/{signing.document_id}").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/").get_data(as_text=True))})
    sign_in(client, signing.author.username)
    assert 'id="revise-form"' in client.get(f"/documents/{signing.document_id}").get_data(as_text=True)


@pytest.mark.req("PICS-9.5")
@pytest.mark.req("11.10(e)")
def test_an_administrator_transfers_ownership_with_a_reason_and_the_new_owner_revises(signing, services, people):
    successor = people.make("shota.fujii", "author", printed_name="Shota Fujii")
    signing.sign(signing.author)
    signing.sign(signing.reviewer, kind="reject", reason=REFUSAL)
    _transfer(services, signing.admin, signing.document_id, successor)

    assert signing.document().owner_id == successor.id
    event = _events(services, "document.owner_transferred")[-1]
    assert event.actor_name == "Daisuke Kato" and event.reason == HANDOVER
    assert json.loads(event.changes) == {"owner": {"old": "kenji.sato", "new": "shota.fujii"}}
    with pytest.raises(NotPermitted):
        _revise(services, signing.author, signing.document_id)
    _revise(services, successor, signing.document_id)
    assert signing.document().latest.created_by == successor.id
    assert [n.subject for n in _notifications(services, successor, "ownership")] == [
        f"You are now the owner of {signing.document().number} ({signing.document().title})."]
    assert len(_notifications(services, signing.author, "ownership")) == 1


@pytest.mark.req("PICS-9.5")
def test_ownership_goes_only_to_an_active_writer_of_the_type_with_a_reason_and_only_by_an_administrator(
        signing, services, people):
    inspector = people.make("maria.klein", "inspector", printed_name="Maria Klein")
    physician = people.make("haruto.ito", "physician", printed_name="Dr Haruto Ito")
    successor = people.make("shota.fujii", "author", printed_name="Shota Fujii")
    for person in (signing.second_admin, inspector, physician):
        with pytest.raises(NotPermitted, match="cannot own this document"):
            _transfer(services, signing.admin, signing.document_id, person)
    with pytest.raises(ReasonRequired):
        _transfer(services, signing.admin, signing.document_id, successor, reason="  ")
    with pytest.raises(NotPermitted, match="Only an administrator"):
        _transfer(services, signing.reviewer, signing.document_id, successor)
    assert signing.document().owner_id == signing.author.id
    assert _events(services, "document.owner_transferred") == []


@pytest.mark.req("PICS-9.5")
def test_the_administrator_transfers_ownership_from_the_page_and_over_the_api(signing, services, people, client):
    successor = people.make("shota.fujii", "author", printed_name="Shota Fujii")
    sign_in(client, signing.admin.username)
    page = client.get(f"/documents/{signing.document_id}").get_data(as_text=True)
    assert 'id="transfer-ownership"' in page
    form = client.get(f"/admin/documents/{signing.document_id}/owner").get_data(as_text=True)
    assert "Shota Fujii" in form and "Akiko Tanaka" in form and "Daisuke Kato" not in form.split("new-owner")[1]
    response = client.post(f"/admin/documents/{signing.document_id}/owner", data={
        "csrf_token": csrf_token(form), "new_owner_id": str(successor.id), "reason": HANDOVER})
    assert response.status_code == 302 and signing.document().owner_id == successor.id

    api = Api(client, signing.second_admin.username)
    response = api.post(f"/documents/{signing.document_id}/owner",
                        json={"new_owner_id": signing.author.id, "reason": "Kenji Sato is back from leave."})
    assert response.status_code == 200 and response.json["owner_id"] == signing.author.id
    response = api.post(f"/documents/{signing.document_id}/owner", json={"new_owner_id": successor.id, "reason": ""})
    assert response.status_code == 400 and response.json["error"]["code"] == "reason_required"
    author = Api(client, signing.author.username)
    response = author.post(f"/documents/{signing.document_id}/owner",
                           json={"new_owner_id": successor.id, "reason": HANDOVER})
    assert response.status_code == 403
    assert [e.actor_name for e in _events(services, "document.owner_transferred")] == ["Daisuke Kato", "Emi Suzuki"]


def test_the_owner_is_told_of_every_refusal_revision_approval_and_withdrawal_of_their_record(signing, services):
    _sign(services, signing.author, signing.document_id)
    _sign(services, signing.reviewer, signing.document_id, refusal=REFUSAL)
    _revise(services, signing.author, signing.document_id)
    with command(services.sessions) as session:
        document = session.get(dm.Document, signing.document_id)
        author = session.get(User, signing.author.id)
        drafting.submit(services, session, context(author), author, document)
    for person in (signing.author, signing.reviewer, signing.approver):
        _sign(services, person, signing.document_id)
    with command(services.sessions) as session:
        qa = session.get(User, signing.approver.id)
        drafting.withdraw(services, session, context(qa), qa, session.get(dm.Document, signing.document_id),
                          "Superseded by the investigation report of the same lot.")
    number = signing.document().number
    with services.sessions() as session:
        told = [(n.kind, n.subject) for n in session.scalars(
            select(Notification).where(Notification.recipient_id == signing.author.id,
                                       Notification.kind != "task").order_by(Notification.id))]
    assert [kind for kind, _subject in told] == ["rejected", "revised", "approved", "withdrawn"]
    assert all(number in subject for _kind, subject in told)


@pytest.mark.req("11.10(g)")
@pytest.mark.req("PICS-9.5")
def test_a_content_role_is_refused_every_handover_route_of_the_administrators(app, client, people):
    from tests.integration.test_role_matrix import url, write_routes

    people.make("emi.nakamura", "qa")
    sign_in(client, "emi.nakamura")
    token = csrf_token(client.get("/").get_data(as_text=True))
    routes = write_routes(app, ("handover.",))
    assert len(routes) >= 4
    for rule, method in routes:
        response = client.open(url(rule), method=method, data={"csrf_token": token, "reason": "x"})
        assert response.status_code == 403, (rule.rule, method, response.status_code)
    for rule in (r for r in app.url_map.iter_rules() if r.endpoint.startswith("handover.") and "GET" in r.methods):
        assert client.get(url(rule)).status_code == 403, rule.rule
