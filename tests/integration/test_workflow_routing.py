"""Routing in workflow terms: parallel steps, any-one-of roles, steps that name the case's physician,
delegation while absent (recorded, bound into the signature and shown under it)."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from edms.application.tasks import tasks_for
from edms.audit.models import AuditEvent
from edms.cases.facts import CaseFacts
from edms.cases.operations import create_case
from edms.db import transaction
from edms.documents.operations import create_document, submit
from edms.users.models import User
from edms.workflow import delegations
from edms.workflow.models import Delegation
from edms.workflow.refusals import AuthorityRefused, SequenceRefused
from tests.conftest import PASSWORD, bearer, csrf_token, sign_in
from tests.integration.signing_fixtures import context
from tests.support.examples import TITLES, VALUES

NOW = datetime.now(UTC)


@pytest.fixture
def physicians(signing):
    """Dr Mori treats the patient of the case; Dr Weber covers for her; both ready to sign."""
    mori = signing.people.make("yuki.mori", "physician", printed_name="Dr Yuki Mori")
    weber = signing.people.make("lukas.weber", "physician", printed_name="Dr Lukas Weber")
    for person in (mori, weber):
        signing.verify_identity(person)
        signing.acknowledge_policy(person)
        signing.train(person, "physician", document_type=None)
    return mori, weber


def _justification_in_case(signing, physician: User) -> int:
    """A case naming `physician`, and its submitted physician justification, relying on the OOS notification."""
    oos_number = signing.document().number
    with transaction(signing.sessions) as session:
        qa = session.get(User, signing.reviewer.id)
        case = create_case(session, context(qa), qa, _regimes(signing), CaseFacts(
            regime_key="jp_current", product="Autologous anti-CD19 CAR-T", lot="L2026-0412", patient_ref="PT-7Q4X",
            treating_site="Kansai University Hospital", site_timezone="Asia/Tokyo", physician_id=physician.id,
            oos_detected_at=datetime(2026, 11, 20, 0, 30, tzinfo=UTC)))
        doctor = session.get(User, physician.id)
        document = create_document(session, context(doctor), doctor,
                                   signing.document_types["physician_justification"],
                                   title=TITLES["physician_justification"],
                                   raw_values={**VALUES["physician_justification"],
                                               "oos_notification": [oos_number]}, case_id=case.id)
        submit(session, context(doctor), doctor, document)
        return document.id


def _regimes(signing):
    from edms.cases.regimes import load_regimes

    return load_regimes(signing.settings.forms_dir / "regimes", signing.document_types)




def _delegate(signing, delegator: User, delegate_to: User, *, days: int = 7, by: User | None = None) -> int:
    with transaction(signing.sessions) as session:
        actor = session.get(User, (by or delegator).id)
        row = delegations.delegate(session, context(actor), actor, delegator=session.get(User, delegator.id),
                                   delegate_to=session.get(User, delegate_to.id), role="physician",
                                   starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(days=days),
                                   reason="Annual leave 24 Nov – 1 Dec; Dr Weber covers the ward")
        return row.id


def _refusals(signing) -> list[str]:
    with signing.sessions() as session:
        return [e.reason for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "signature.refused"))]


@pytest.mark.req("11.10(g)")
def test_a_step_naming_the_cases_physician_is_refused_to_any_other_physician(signing, physicians):
    mori, weber = physicians
    document_id = _justification_in_case(signing, mori)
    with pytest.raises(AuthorityRefused, match="Only Dr Yuki Mori, or someone they delegated to"):
        signing.sign(weber, document_id=document_id)
    assert "Only Dr Yuki Mori" in _refusals(signing)[-1]
    signing.sign(mori, document_id=document_id)
    signing.sign(mori, document_id=document_id)
    assert signing.document(document_id).status == "approved"


@pytest.mark.req("11.10(g)")
def test_a_delegate_signs_for_the_absent_physician_and_the_signature_says_so(app, client, signing, physicians):
    mori, weber = physicians
    document_id = _justification_in_case(signing, mori)
    delegation_id = _delegate(signing, mori, weber)

    with signing.sessions() as session:
        inbox = tasks_for(session, session.get(User, weber.id), document_types=signing.document_types,
                          regimes=app.extensions["edms"].regimes, now=datetime.now(UTC))
    task = next(t for t in inbox if t.document_id == document_id)
    assert task.on_behalf_of == "Dr Yuki Mori" and task.step_name == "physician_author"

    signature = signing.sign(weber, document_id=document_id)
    manifest = json.loads(signature.manifest)
    assert manifest["signer_printed_name"] == "Dr Lukas Weber"
    assert manifest["delegation"]["delegation_id"] == delegation_id
    assert manifest["delegation"]["on_behalf_of_printed_name"] == "Dr Yuki Mori"

    sign_in(client, "lukas.weber")
    page = client.get(f"/documents/{document_id}").get_data(as_text=True)
    assert "On behalf of" in page and f"Dr Yuki Mori (delegation {delegation_id}," in page
    api = client.get(f"/api/v1/signatures/{signature.signature_id}",
                     headers=bearer(client, "lukas.weber")).get_json()
    assert api["on_behalf_of"]["printed_name"] == "Dr Yuki Mori"
    assert api["on_behalf_of"]["delegation_id"] == delegation_id


@pytest.mark.req("11.10(g)")
def test_after_the_delegation_ends_the_delegate_may_no_longer_sign(signing, physicians):
    mori, weber = physicians
    document_id = _justification_in_case(signing, mori)
    delegation_id = _delegate(signing, mori, weber)
    with transaction(signing.sessions) as session:
        delegations.revoke(session, context(mori), session.get(User, mori.id), session.get(Delegation, delegation_id),
                           "Back early from leave")
    with pytest.raises(AuthorityRefused, match="Only Dr Yuki Mori"):
        signing.sign(weber, document_id=document_id)
    with signing.sessions() as session:
        actions = [e.action for e in session.scalars(select(AuditEvent).where(AuditEvent.object_type == "delegation")
                                                     .order_by(AuditEvent.seq))]
    assert actions == ["delegation.created", "delegation.revoked"]


@pytest.mark.parametrize("change, message", [
    ({"delegate_to": "reviewer"}, "does not hold the role physician"),
    ({"delegate_to": "self"}, "cannot delegate to themselves"),
    ({"reason": "  "}, "A reason is required"),
    ({"days": 120}, "at most 92 days"),
    ({"actor": "weber"}, "only your own signing steps"),
])
def test_a_delegation_is_refused_unless_it_goes_to_another_holder_of_the_role_for_a_bounded_reasoned_period(
        signing, physicians, change, message):
    mori, weber = physicians
    targets = {"reviewer": signing.reviewer, "self": mori}
    with transaction(signing.sessions) as session:
        actor = session.get(User, (weber if change.get("actor") == "weber" else mori).id)
        with pytest.raises(delegations.DelegationError, match=message):
            delegations.delegate(
                session, context(actor), actor, delegator=session.get(User, mori.id),
                delegate_to=session.get(User, targets.get(change.get("delegate_to"), weber).id), role="physician",
                starts_at=NOW, ends_at=NOW + timedelta(days=change.get("days", 7)),
                reason=change.get("reason", "Conference in Vienna"))
        assert session.scalars(select(Delegation)).all() == []


def test_an_administrator_records_a_delegation_for_someone_absent_without_notice(signing, physicians):
    mori, weber = physicians
    delegation_id = _delegate(signing, mori, weber, by=signing.admin)
    with signing.sessions() as session:
        row = session.get(Delegation, delegation_id)
        assert (row.delegator_id, row.delegate_id, row.created_by) == (mori.id, weber.id, signing.admin.id)


def _deviation_signers(signing) -> User:
    """The OOS story's people trained for deviation reports, and Naoko Ito of regulatory affairs."""
    naoko = signing.people.make("naoko.ito", "regulatory", printed_name="Naoko Ito")
    signing.make_ready(naoko, "regulatory")
    for person, role in ((signing.author, "author"), (signing.reviewer, "qa"), (signing.approver, "qa"),
                         (naoko, "regulatory")):
        signing.train(person, role, document_type="deviation_report")
    return naoko


def _deviation(signing) -> int:
    with transaction(signing.sessions) as session:
        author = session.get(User, signing.author.id)
        document = create_document(session, context(author), author, signing.document_types["deviation_report"],
                                   title=TITLES["deviation_report"], raw_values=dict(VALUES["deviation_report"]))
        submit(session, context(author), author, document)
        return document.id


@pytest.mark.req("11.10(f)")
def test_qa_review_and_the_regulatory_assessment_run_in_parallel_and_approval_waits_for_both(app, signing):
    naoko = _deviation_signers(signing)
    document_id = _deviation(signing)
    signing.sign(signing.author, document_id=document_id)

    with signing.sessions() as session:
        def inbox(person):
            return [(t.document_id, t.step_name) for t in tasks_for(
                session, session.get(User, person.id), document_types=signing.document_types,
                regimes=app.extensions["edms"].regimes, now=datetime.now(UTC)) if t.kind == "sign"]
        assert (document_id, "regulatory_assessment") in inbox(naoko)
        assert (document_id, "qa_review") in inbox(signing.reviewer)

    with pytest.raises(SequenceRefused, match="Approved by QA is not due yet: Reviewed by QA, Reportability"):
        signing.sign(signing.approver, document_id=document_id, step="qa_approval")
    signing.sign(naoko, document_id=document_id)  # the regulatory assessment first
    with pytest.raises(SequenceRefused, match="Approved by QA is not due yet: Reviewed by QA must be signed first"):
        signing.sign(signing.approver, document_id=document_id, step="qa_approval")
    signing.sign(signing.reviewer, document_id=document_id, step="qa_review")
    signing.sign(signing.approver, document_id=document_id)
    assert signing.document(document_id).status == "approved"
    assert [s.step for s in signing.signatures(document_id)] == [
        "author", "regulatory_assessment", "qa_review", "qa_approval"]


def test_a_physician_delegates_on_the_page_and_ends_it_early_with_a_reason(client, signing, physicians):
    mori, weber = physicians
    sign_in(client, "yuki.mori")
    page = client.get("/delegations/").get_data(as_text=True)
    start = (NOW + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    end = (NOW + timedelta(days=8)).strftime("%Y-%m-%dT%H:%M")
    form = {"csrf_token": csrf_token(page), "role": "physician", "delegate_id": str(weber.id), "starts_at": start,
            "ends_at": end, "reason": "Annual leave", "password": PASSWORD}
    refused = client.post("/delegations/", data={**form, "reason": ""})
    assert refused.status_code == 400 and "A reason is required" in refused.get_data(as_text=True)
    response = client.post("/delegations/", data=form, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Delegation recorded" in page and "Dr Lukas Weber" in page and "planned" in page
    with signing.sessions() as session:
        row = session.scalars(select(Delegation)).one()
    ended = client.post(f"/delegations/{row.id}/revoke", data={"csrf_token": csrf_token(page),
                                                               "reason": "Leave cancelled"}, follow_redirects=True)
    assert "ended" in ended.get_data(as_text=True) and "Leave cancelled" in ended.get_data(as_text=True)


def test_delegations_over_the_api(client, signing, physicians):
    mori, weber = physicians
    headers = bearer(client, "yuki.mori")
    body = {"delegate_id": weber.id, "role": "physician", "starts_at": NOW.isoformat(),
            "ends_at": (NOW + timedelta(days=3)).isoformat(), "reason": "Conference", "password": PASSWORD}
    assert client.post("/api/v1/delegations", json={**body, "ends_at": "2026-12-01T09:00"},
                       headers=headers).status_code == 400  # no offset: refused, never guessed
    created = client.post("/api/v1/delegations", json=body, headers=headers)
    assert created.status_code == 201 and created.get_json()["delegate_id"] == weber.id
    listed = client.get("/api/v1/delegations", headers=headers).get_json()["items"]
    assert [item["id"] for item in listed] == [created.get_json()["id"]]
    revoked = client.post(f"/api/v1/delegations/{created.get_json()['id']}/revoke", json={"reason": "Cancelled"},
                          headers=headers)
    assert revoked.get_json()["revocation_reason"] == "Cancelled"


def _notified(signing, kind: str | None = None) -> list[tuple[str, str, str]]:
    from edms.notifications.models import Notification

    with signing.sessions() as session:
        rows = session.scalars(select(Notification).order_by(Notification.id)).all()
        names = {u.id: u.username for u in session.scalars(select(User))}
        return [(names[n.recipient_id], n.kind, n.subject) for n in rows if kind in (None, n.kind)]


def _announce(signing, document_id: int, signed_step: str | None = None) -> None:
    from edms.application.notices import announce
    from edms.audit import AuditContext

    with transaction(signing.sessions) as session:
        from edms.documents import models as dm

        document = session.get(dm.Document, document_id)
        announce(session, AuditContext.system("test"), signing.settings.smtp,
                 signing.document_types[document.type_key], document, signed_step=signed_step)


def test_the_people_who_must_sign_next_are_notified_and_the_owner_when_it_is_approved(signing):
    naoko = _deviation_signers(signing)
    document_id = _deviation(signing)
    _announce(signing, document_id)
    assert {(who, kind) for who, kind, _ in _notified(signing)} == {("kenji.sato", "task")}

    signing.sign(signing.author, document_id=document_id)
    _announce(signing, document_id, "author")
    told = {who: subject for who, kind, subject in _notified(signing) if "Reviewed by QA" in subject
            or "Reportability" in subject}
    # Both parallel steps fall due; the author is never asked to review their own record.
    assert set(told) == {"akiko.tanaka", "hiroshi.yamamoto", "naoko.ito"}

    signing.sign(naoko, document_id=document_id)
    before = len(_notified(signing))
    _announce(signing, document_id, "regulatory_assessment")
    assert len(_notified(signing)) == before  # approval still waits for QA's review: nobody new to tell
    signing.sign(signing.reviewer, document_id=document_id, step="qa_review")
    _announce(signing, document_id, "qa_review")
    approval_due = "is waiting for your signature (Approved by QA)."
    assert [who for who, _, subject in _notified(signing) if subject.endswith(approval_due)] == [
        "hiroshi.yamamoto"]  # Akiko reviewed: one person does not sign two steps
    signing.sign(signing.approver, document_id=document_id)
    _announce(signing, document_id, "qa_approval")
    assert [(who, kind) for who, kind, _ in _notified(signing, "approved")] == [("kenji.sato", "approved")]


def test_a_refusal_tells_the_owner_with_the_reason(signing):
    signing.sign(signing.author)
    signing.sign(signing.reviewer, kind="reject", reason="Risk assessment lacks the comparable-lot data.")
    _announce(signing, signing.document_id, "qa_review")
    [(who, kind, subject)] = _notified(signing)
    assert (who, kind) == ("kenji.sato", "rejected") and subject.endswith("was refused.")


def test_submitting_on_the_page_and_delegating_notify_the_people_concerned(client, signing, physicians):
    mori, weber = physicians
    document = signing.new_oos(submitted=False)
    sign_in(client, "kenji.sato")
    page = client.get(f"/documents/{document.id}").get_data(as_text=True)
    client.post(f"/documents/{document.id}/submit", data={"csrf_token": csrf_token(page)})
    assert ("kenji.sato", "task") in {(who, kind) for who, kind, _ in _notified(signing)}

    _delegate_on_api = client.post("/api/v1/delegations", headers=bearer(client, "yuki.mori"), json={
        "delegate_id": weber.id, "role": "physician", "starts_at": NOW.isoformat(),
        "ends_at": (NOW + timedelta(days=3)).isoformat(), "reason": "Conference", "password": PASSWORD})
    assert _delegate_on_api.status_code == 201
    assert ("lukas.weber", "delegation", "Dr Yuki Mori delegated signing steps to you.") in _notified(signing)


@pytest.mark.req("11.200(a)(1)")
@pytest.mark.req("11.300(d)")
@pytest.mark.parametrize("password", [None, "", "Wrong-Password-123"])
def test_a_bearer_token_alone_cannot_hand_a_physicians_signing_authority_to_another(client, signing, physicians,
                                                                                   password):
    mori, weber = physicians
    headers = bearer(client, "yuki.mori")  # e.g. a token copied from a script or a log
    body = {"delegate_id": weber.id, "role": "physician", "starts_at": NOW.isoformat(),
            "ends_at": (NOW + timedelta(days=3)).isoformat(), "reason": "Conference"}
    if password is not None:
        body["password"] = password
    refused = client.post("/api/v1/delegations", json=body, headers=headers)
    assert refused.status_code == 403 and refused.json["error"]["code"] == "password_confirmation_failed"
    with signing.sessions() as session:
        assert session.scalars(select(Delegation)).all() == []
        assert session.get(User, mori.id).failed_logins == 1  # counted towards lockout, as a failed sign-in
        failed = session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.failed")).all()
    assert [e.reason for e in failed] == ["wrong password (confirmation of a delegation)"]
    document_id = _justification_in_case(signing, mori)
    with pytest.raises(AuthorityRefused):
        signing.sign(weber, document_id=document_id)


def test_a_delegation_on_the_page_without_the_password_is_refused(client, signing, physicians):
    mori, weber = physicians
    sign_in(client, "yuki.mori")
    page = client.get("/delegations/").get_data(as_text=True)
    form = {"csrf_token": csrf_token(page), "role": "physician", "delegate_id": str(weber.id),
            "starts_at": (NOW + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (NOW + timedelta(days=8)).strftime("%Y-%m-%dT%H:%M"), "reason": "Annual leave"}
    refused = client.post("/delegations/", data={**form, "password": "Wrong-Password-123"})
    assert refused.status_code == 400 and "Your password is not correct" in refused.get_data(as_text=True)
    with signing.sessions() as session:
        assert session.scalars(select(Delegation)).all() == []
