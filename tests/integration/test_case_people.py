"""The people a case concerns are told, and work is handed over when someone leaves (issue #12).

On the signed case of tests/support/signed_case.py (lot L2026-0412, patient PT-7Q4X, treating physician
Dr Haruto Ito): the physician learns of the QA release and of every refusal in their case, QA of the
physician's decisions. Before deactivating someone, an administrator sees what they still hold open (the
cases naming them as treating physician, their unfinished records, the steps waiting for them, their
delegations) and hands each one over; a case's treating physician is changed with a reason, audited.
A deactivated account can be reactivated: its old certificate stays revoked, and it signs again only after
a second administrator has verified the person's identity, as for a new account."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from edms.application import accounts, cases, concerned, drafting, signing_rights
from edms.application import signing as signing_use_cases
from edms.application.assignments import open_assignments
from edms.application.unit_of_work import command
from edms.audit.models import AuditEvent
from edms.cases import models as cm
from edms.cases.errors import CaseError
from edms.documents import models as dm
from edms.notifications.models import Notification
from edms.signatures import gates
from edms.signatures.ceremony import Credentials
from edms.signatures.errors import GateRecordRefused
from edms.signatures.models import SigningCredential
from edms.timeutil import utc_now
from edms.users import operations as users
from edms.users.errors import AccountError
from edms.users.models import User
from edms.workflow import delegations
from edms.workflow.refusals import SigningRefused
from tests.conftest import PASSWORD, csrf_token, sign_in
from tests.support.documents import Api, realistic_values
from tests.support.people import acting

REFUSAL = "The conditions of release omit the 90-minute limit after thaw: add it."
HANDOVER = "Dr Ito moves to the Kobe site on 1 December; Dr Suzuki takes over his patients."
TEMPORARY = "Temporary-Pass-2026!"
CHOSEN = "Back-In-QA-December-2026"


def _user(session, username: str) -> User:
    return session.scalar(select(User).where(User.username == username))


def _told(services, username: str, kind: str | None = None) -> list[str]:
    with services.sessions() as session:
        query = select(Notification).join(User, Notification.recipient_id == User.id).where(User.username == username)
        if kind:
            query = query.where(Notification.kind == kind)
        return [n.subject for n in session.scalars(query.order_by(Notification.id))]


def _sign(services, username: str, document_id: int, *, refusal: str | None = None, password: str = PASSWORD) -> None:
    with command(services.sessions) as session:
        user, document = _user(session, username), session.get(dm.Document, document_id)
        credentials = Credentials(password=password, username=username)
        if refusal:
            signing_use_cases.refuse(services, session, acting(user), user, document, document.latest, credentials,
                                     reason=refusal)
        else:
            signing_use_cases.sign(services, session, acting(user), user, document, document.latest, credentials)


def _revise_and_submit(services, username: str, document_id: int, reason: str) -> None:
    with command(services.sessions) as session:
        user, document = _user(session, username), session.get(dm.Document, document_id)
        drafting.revise(services, session, acting(user), user, document, reason)
        drafting.submit(services, session, acting(user), user, document)


def _justification_values(services, signed_case) -> dict[str, object]:
    doc_type = services.document_types["physician_justification"]
    refs = {field.name: [signed_case.numbers[signed_case.documents[0]]] for field in doc_type.fields
            if field.type == "document_refs"}
    return realistic_values(doc_type, refs)


def _new_oos(services) -> int:
    """A submitted OOS notification outside any case, by its QC author."""
    with command(services.sessions) as session:
        author = _user(session, "kenji.sato")
        doc_type = services.document_types["oos_notification"]
        document = drafting.create_document(services, session, acting(author), author, doc_type.key,
                                            title="OOS notification, lot L2026-0415", raw_values=realistic_values(doc_type))
        drafting.submit(services, session, acting(author), author, document)
        return document.id


@pytest.fixture
def services(app):
    return app.extensions["edms"]


@pytest.fixture
def release_id(signed_case, services) -> int:
    with services.sessions() as session:
        return next(d for d in signed_case.documents if session.get(dm.Document, d).type_key == "qa_release")


def test_the_treating_physician_is_told_of_the_qa_release_and_of_a_refusal_in_their_case(
        signed_case, services, release_id):
    # The release's latest version is approved: what the signature use case tells the case's people then.
    with command(services.sessions) as session:
        release = session.get(dm.Document, release_id)
        case = session.get(cm.Case, signed_case.case_id)
        concerned.signed(session, acting(_user(session, "hiroshi.yamada")), services.settings.smtp,
                         services.document_types["qa_release"], services.regimes[case.regime_key], release, case)
    approved = _told(services, "haruto.ito", "approved")
    assert len(approved) == 1 and "was approved" in approved[0] and case.reference in approved[0]

    _revise_and_submit(services, "emi.nakamura", release_id, "Conditions of release completed.")
    _sign(services, "hiroshi.yamada", release_id, refusal=REFUSAL)
    refused = _told(services, "haruto.ito", "rejected")
    assert len(refused) == 1 and "was refused" in refused[0] and case.reference in refused[0]
    # The owner is told as before; the organisation's other physician is told nothing.
    assert _told(services, "emi.nakamura", "rejected") and _told(services, "mei.suzuki") == []


def test_qa_is_told_of_the_treating_physicians_decision(signed_case, services, monkeypatch):
    # The fixture's case has no ethics record, which the regime wants approved before the justification is
    # signed; that gate is not what this test is about.
    monkeypatch.setattr(services, "record_gates", ())
    with command(services.sessions) as session:
        physician = _user(session, "haruto.ito")
        doc_type = services.document_types["physician_justification"]
        document = drafting.create_document(services, session, acting(physician), physician, doc_type.key,
                                            title="Justification for the OOS lot L2026-0412 (PT-7Q4X)",
                                            raw_values=_justification_values(services, signed_case),
                                            case_id=signed_case.case_id)
        drafting.submit(services, session, acting(physician), physician, document)
        document_id = document.id
    _sign(services, "haruto.ito", document_id)
    _sign(services, "haruto.ito", document_id)
    for qa in ("emi.nakamura", "hiroshi.yamada"):
        subjects = _told(services, qa, "approved")
        assert len(subjects) == 1 and subjects[0].startswith("The physician's record"), subjects


def test_changing_the_treating_physician_is_for_administrators_with_a_reason_audited_and_both_are_told(
        signed_case, services):
    with command(services.sessions) as session:
        admin, case = _user(session, "takeshi.ogawa"), session.get(cm.Case, signed_case.case_id)
        with pytest.raises(CaseError, match="reason"):
            cases.change_physician(services, session, acting(admin), admin, case, _user(session, "mei.suzuki"), " ")
        qa = _user(session, "emi.nakamura")
        with pytest.raises(CaseError, match="Only an administrator"):
            cases.change_physician(services, session, acting(qa), qa, case, _user(session, "mei.suzuki"), HANDOVER)
        with pytest.raises(CaseError, match="active user with the physician role"):
            cases.change_physician(services, session, acting(admin), admin, case, qa, HANDOVER)
        cases.change_physician(services, session, acting(admin), admin, case, _user(session, "mei.suzuki"), HANDOVER)
    with services.sessions() as session:
        case = session.get(cm.Case, signed_case.case_id)
        assert case.physician_id == _user(session, "mei.suzuki").id
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "case.physician_changed")).one()
    assert event.reason == HANDOVER and event.actor_name == "Takeshi Ogawa"
    assert json.loads(event.changes) == {"physician": {"old": "haruto.ito", "new": "mei.suzuki"}}
    assert len(_told(services, "mei.suzuki", "case")) == 1 and len(_told(services, "haruto.ito", "case")) == 1


def test_before_deactivation_every_open_assignment_is_listed_and_can_be_handed_over(signed_case, services):
    now = utc_now()
    with command(services.sessions) as session:
        admin, physician = _user(session, "takeshi.ogawa"), _user(session, "haruto.ito")
        physician_type = services.document_types["physician_justification"]
        draft = drafting.create_document(services, session, acting(physician), physician, physician_type.key,
                                         title="Justification for the OOS lot L2026-0412 (PT-7Q4X)",
                                         raw_values=_justification_values(services, signed_case),
                                         case_id=signed_case.case_id)
        delegations.delegate(session, acting(physician), physician, delegator=physician,
                             delegate_to=_user(session, "mei.suzuki"), role="physician", starts_at=now,
                             ends_at=now + timedelta(days=14), reason="Congress in Vienna")
        found = open_assignments(services, session, physician)
        assert [c.id for c in found.cases] == [signed_case.case_id]
        assert [d.id for d in found.documents] == [draft.id]
        assert len(found.delegations) == 1 and found.count >= 3
        draft_id = draft.id
    # Handed over one by one, the list empties.
    with command(services.sessions) as session:
        admin, successor = _user(session, "takeshi.ogawa"), _user(session, "mei.suzuki")
        cases.change_physician(services, session, acting(admin), admin, session.get(cm.Case, signed_case.case_id),
                               successor, HANDOVER)
        drafting.transfer_ownership(services, session, acting(admin), admin, session.get(dm.Document, draft_id),
                                    successor, HANDOVER)
        row = open_assignments(services, session, _user(session, "haruto.ito")).delegations[0]
        delegations.revoke(session, acting(admin), admin, row, "Dr Ito leaves the organisation.")
        assert open_assignments(services, session, _user(session, "haruto.ito")).count == 0


def test_the_deactivation_page_lists_the_assignments_and_reassigns_the_case_from_it(signed_case, services, client):
    with services.sessions() as session:
        physician_id, successor_id = _user(session, "haruto.ito").id, _user(session, "mei.suzuki").id
    sign_in(client, "takeshi.ogawa")
    page = client.get(f"/admin/users/{physician_id}/deactivate").get_data(as_text=True)
    assert 'id="open-assignments"' in page and 'id="assigned-cases"' in page and "CASE-" in page
    response = client.post(f"/admin/cases/{signed_case.case_id}/physician", data={
        "csrf_token": csrf_token(page), "physician_id": str(successor_id), "reason": HANDOVER,
        "next": f"/admin/users/{physician_id}/deactivate"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/admin/users/{physician_id}/deactivate")
    page = client.get(f"/admin/users/{physician_id}/deactivate").get_data(as_text=True)
    assert 'id="assigned-cases"' not in page and 'id="deactivate-form"' in page


def test_the_administrator_reads_the_assignments_and_changes_the_physician_over_the_api(signed_case, services, client):
    with services.sessions() as session:
        physician_id, successor_id = _user(session, "haruto.ito").id, _user(session, "mei.suzuki").id
    api = Api(client, "takeshi.ogawa")
    found = api.get(f"/users/{physician_id}/assignments").json
    assert [c["id"] for c in found["cases"]] == [signed_case.case_id] and successor_id in found["candidate_physician_ids"]
    response = api.post(f"/cases/{signed_case.case_id}/physician", json={"physician_id": successor_id,
                                                                         "reason": HANDOVER})
    assert response.status_code == 200 and response.json["physician_id"] == successor_id
    assert api.get(f"/users/{physician_id}/assignments").json["cases"] == []
    qa = Api(client, "emi.nakamura")
    assert qa.post(f"/cases/{signed_case.case_id}/physician",
                   json={"physician_id": physician_id, "reason": HANDOVER}).status_code == 403


@pytest.mark.req("11.100(b)")
@pytest.mark.req("11.300(c)")
def test_a_reactivated_account_keeps_its_old_certificate_revoked_and_signs_only_after_a_second_identity_check(
        signed_case, services, people):
    second_admin = people.make("sachiko.ono", "admin", printed_name="Sachiko Ono")
    oos_id = _new_oos(services)  # submitted while Hiroshi Yamada can still sign its QA step
    with command(services.sessions) as session:
        admin, person = _user(session, "takeshi.ogawa"), _user(session, "hiroshi.yamada")
        old_serials = {c.serial_hex for c in session.scalars(select(SigningCredential)
                                                            .where(SigningCredential.user_id == person.id))}
        assert old_serials and gates.identity_verified(session, person)
        accounts.deactivate(services, session, acting(admin), person, "Left the company.")
    with command(services.sessions) as session:
        admin, person = _user(session, "takeshi.ogawa"), _user(session, "hiroshi.yamada")
        with pytest.raises(AccountError, match="reactivate it instead"):
            accounts.unlock(services, session, acting(admin), person, "by phone")
        accounts.reactivate(services, session, acting(admin), person, TEMPORARY, "Rejoined the QA department.",
                            actor=admin, actor_password=PASSWORD)
        assert person.active and person.must_change_password and not gates.identity_verified(session, person)
        # The administrator who reactivated the account may not also vouch for the person.
        with pytest.raises(GateRecordRefused, match="You reactivated this account"):
            signing_rights.record_identity(services, session, acting(admin), admin, person, method="In person",
                                           evidence="Passport checked")
    with command(services.sessions) as session:
        person = _user(session, "hiroshi.yamada")
        users.change_own_password(session, acting(person), services.settings.password, person, TEMPORARY, CHOSEN)
    _sign(services, "kenji.sato", oos_id)
    with pytest.raises(SigningRefused, match="identity"):
        _sign(services, "hiroshi.yamada", oos_id, password=CHOSEN)
    with command(services.sessions) as session:
        verifier, person = _user(session, second_admin.username), _user(session, "hiroshi.yamada")
        signing_rights.record_identity(services, session, acting(verifier), verifier, person,
                                       method="In person, photo ID", evidence="Passport checked against HR record")
    _sign(services, "hiroshi.yamada", oos_id, password=CHOSEN)
    with services.sessions() as session:
        person = _user(session, "hiroshi.yamada")
        credentials = session.scalars(select(SigningCredential).where(SigningCredential.user_id == person.id)).all()
    assert all(c.revoked_at is not None for c in credentials if c.serial_hex in old_serials)
    assert [c for c in credentials if c.serial_hex not in old_serials and c.revoked_at is None]


def test_reactivation_from_the_account_page_and_the_api_needs_the_administrators_password(signed_case, services,
                                                                                           client):
    with command(services.sessions) as session:
        admin, person = _user(session, "takeshi.ogawa"), _user(session, "mei.suzuki")
        accounts.deactivate(services, session, acting(admin), person, "Left the company.")
        person_id = person.id
    sign_in(client, "takeshi.ogawa")
    page = client.get(f"/admin/users/{person_id}").get_data(as_text=True)
    assert 'id="reactivate-form"' in page and 'id="unlock-form"' not in page
    client.post(f"/admin/users/{person_id}/reactivate", data={
        "csrf_token": csrf_token(page), "password": TEMPORARY, "reason": "Rejoined.", "your_password": "wrong-one"})
    with services.sessions() as session:
        assert not session.get(User, person_id).active
    api = Api(client, "takeshi.ogawa")
    response = api.post(f"/users/{person_id}/reactivate",
                        json={"password": TEMPORARY, "reason": "Rejoined the hospital.", "your_password": PASSWORD})
    assert response.status_code == 200 and response.json["active"] is True
    response = api.post(f"/users/{person_id}/reactivate",
                        json={"password": TEMPORARY, "reason": "Again.", "your_password": PASSWORD})
    assert response.status_code == 400 and "only a deactivated account" in response.json["error"]["message"]


def test_the_treating_physician_is_told_when_qa_changes_the_status_of_their_case(signed_case, services):
    with command(services.sessions) as session:
        qa, case = _user(session, "emi.nakamura"), session.get(cm.Case, signed_case.case_id)
        cases.change_status(services, session, acting(qa), qa, case, cm.CANCELLED,
                            "The patient's condition no longer allows the infusion.")
        reference = case.reference
    assert _told(services, "haruto.ito", "case") == [f"Case {reference} is now cancelled."]


@pytest.mark.req("A11-5")
def test_the_handover_answers_match_the_published_schemas(signed_case, services, client):
    from tests.integration.test_api_contract import Contract

    contract = Contract(client)
    admin = Api(client, "takeshi.ogawa")
    with command(services.sessions) as session:
        ids = {name: _user(session, name).id for name in ("haruto.ito", "mei.suzuki", "ren.kobayashi")}
        accounts.deactivate(services, session, acting(_user(session, "takeshi.ogawa")),
                            _user(session, "ren.kobayashi"), "Left the company.")
    found = contract.holds(admin, "get", "/users/{user_id}/assignments", f"/users/{ids['haruto.ito']}/assignments")
    assert found["count"] >= 1
    contract.holds(admin, "post", "/cases/{case_id}/physician", f"/cases/{signed_case.case_id}/physician",
                   json={"physician_id": ids["mei.suzuki"], "reason": HANDOVER})
    document_id = signed_case.documents[0]
    contract.holds(admin, "post", "/documents/{document_id}/owner", f"/documents/{document_id}/owner",
                   json={"new_owner_id": _author_other_than(services, document_id),
                         "reason": HANDOVER})
    contract.holds(admin, "post", "/users/{user_id}/reactivate", f"/users/{ids['ren.kobayashi']}/reactivate",
                   json={"password": TEMPORARY, "reason": "Rejoined.", "your_password": PASSWORD})
    assert len(contract.checked) == 4


def _author_other_than(services, document_id: int) -> int:
    """Someone else who writes the document's type."""
    from edms.application.assignments import owners_instead_of

    with services.sessions() as session:
        return owners_instead_of(services, session, session.get(dm.Document, document_id))[0].id
