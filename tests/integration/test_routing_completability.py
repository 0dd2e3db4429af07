"""Routing never dead-ends silently (issue 12): a submission nobody active and ready now could complete is
refused with the reason and who is missing; a version that becomes stuck later (a signer locked,
deactivated, their role removed, training expired, certificate revoked, a delegation ended) is listed for
administrators and its owner, with what would unblock it; tasks go only to people who can act on them."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from edms.application import accounts, drafting
from edms.application.routing_health import completability, stuck_records
from edms.application.tasks import tasks_for
from edms.application.unit_of_work import command
from edms.audit.models import AuditEvent
from edms.cases.facts import CaseFacts
from edms.cases.operations import create_case
from edms.db import transaction
from edms.documents import models as dm
from edms.documents.operations import create_document
from edms.users.authentication import register_failure
from edms.users.models import User
from edms.workflow import completability as c
from edms.workflow import delegations
from edms.workflow.models import Delegation
from edms.workflow.refusals import SubmissionRefused
from tests.conftest import PASSWORD, bearer, csrf_token, sign_in
from tests.integration.signing_fixtures import OOS, context
from tests.support.examples import TITLES, VALUES

NOW = datetime.now(UTC)


def _stuck(app, *, now=None, owner=None):
    services = app.extensions["edms"]
    with services.sessions() as session:
        return stuck_records(services, session, now=now or datetime.now(UTC), owner_id=owner.id if owner else None)


def _blocked(app, document_id, *, now=None):
    services = app.extensions["edms"]
    with services.sessions() as session:
        result = completability(services, session, session.get(dm.Document, document_id), now=now or datetime.now(UTC))
        return result.blocked if result is not None else None


def _codes(blocked):
    return {o.printed_name: [r.code for r in o.reasons] for o in blocked.obstacles}


def _advice(blocked):
    return [a.code for a in blocked.advice]


def _reviewed(signing):
    """The OOS notification prepared by QC and reviewed by QA: only the approval is left (Hiroshi's)."""
    signing.sign(signing.author)
    signing.sign(signing.reviewer)
    return signing.document_id


def _as_admin(app, signing, act):
    services = app.extensions["edms"]
    with command(services.sessions) as session:
        admin = session.get(User, signing.admin.id)
        act(services, session, context(admin), admin)


@pytest.mark.req("11.10(g)")
def test_a_version_whose_only_approver_is_locked_is_stuck_until_an_administrator_unlocks_them(app, signing):
    document_id = _reviewed(signing)
    assert _blocked(app, document_id) is None and _stuck(app) == []
    services = app.extensions["edms"]
    with transaction(services.sessions) as session:
        hiroshi = session.get(User, signing.approver.id)
        for _ in range(services.settings.password.lockout_threshold):
            register_failure(session, context(hiroshi), services.settings.password, hiroshi, "sign-in")
    blocked = _blocked(app, document_id)
    assert blocked.step.name == "qa_approval"
    assert _codes(blocked)["Hiroshi Yamamoto"] == [c.LOCKED]
    assert _codes(blocked)["Akiko Tanaka"] == [c.SIGNED_OTHER]
    assert c.UNLOCK in _advice(blocked)
    [stuck] = _stuck(app)
    assert stuck.document_id == document_id and stuck.owner_name == "Kenji Sato"
    assert [s.document_id for s in _stuck(app, owner=signing.author)] == [document_id]
    assert _stuck(app, owner=signing.reviewer) == []
    _as_admin(app, signing, lambda s, db, ctx, admin: accounts.unlock(
        s, db, ctx, db.get(User, signing.approver.id), "Identity confirmed by phone"))
    assert _blocked(app, document_id) is None


@pytest.mark.req("11.10(g)")
def test_a_deactivated_approver_makes_the_version_stuck_and_another_signer_is_advised(app, signing):
    document_id = _reviewed(signing)
    _as_admin(app, signing, lambda s, db, ctx, admin: accounts.deactivate(
        s, db, ctx, db.get(User, signing.approver.id), "Left the company"))
    blocked = _blocked(app, document_id)
    assert _codes(blocked)["Hiroshi Yamamoto"][:1] == [c.INACTIVE] and c.GRANT in _advice(blocked)


@pytest.mark.req("11.10(g)")
def test_an_approver_whose_role_is_removed_is_no_longer_counted(app, signing):
    document_id = _reviewed(signing)
    _as_admin(app, signing, lambda s, db, ctx, admin: accounts.set_roles(
        s, db, ctx, db.get(User, signing.approver.id), {"regulatory"}, "Moved to regulatory affairs",
        actor=admin, password=PASSWORD))
    blocked = _blocked(app, document_id)
    assert "Hiroshi Yamamoto" not in _codes(blocked) and c.GRANT in _advice(blocked)


@pytest.mark.req("11.10(i)")
def test_once_the_approvers_training_has_expired_the_version_is_stuck_and_training_is_advised(app, signing):
    document_id = _reviewed(signing)
    next_year = NOW + timedelta(days=400)  # every training recorded by the story is valid for 365 days
    blocked = _blocked(app, document_id, now=next_year)
    assert c.TRAINING in _codes(blocked)["Hiroshi Yamamoto"]
    train = next(a for a in blocked.advice if a.code == c.TRAIN)
    assert "Hiroshi Yamamoto" in train.text.en and "Quality assurance" in train.text.en and "品質保証" in train.text.ja
    assert [s.document_id for s in _stuck(app, now=next_year)] == [document_id]


@pytest.mark.req("11.300(c)")
def test_an_approver_whose_certificate_was_revoked_at_a_password_reset_blocks_until_a_new_password(app, signing):
    signing.sign_through()  # Hiroshi approves one record: his key and certificate are issued
    signing.document_id = signing.new_oos().id
    document_id = _reviewed(signing)
    _as_admin(app, signing, lambda s, db, ctx, admin: accounts.reset_password(
        s, db, ctx, db.get(User, signing.approver.id), "Temporary-Pass-2026!", "Forgotten password",
        actor=admin, actor_password=PASSWORD))
    blocked = _blocked(app, document_id)
    assert c.CERTIFICATE in _codes(blocked)["Hiroshi Yamamoto"] and c.NEW_PASSWORD in _advice(blocked)


@pytest.fixture
def physicians(signing):
    mori = signing.people.make("yuki.mori", "physician", printed_name="Dr Yuki Mori")
    weber = signing.people.make("lukas.weber", "physician", printed_name="Dr Lukas Weber")
    for person in (mori, weber):
        signing.verify_identity(person)
        signing.acknowledge_policy(person)
        signing.train(person, "physician", document_type=None)
    return mori, weber


def _consent_in_case(signing, physician: User) -> int:
    """A case naming `physician`, and the informed consent record she wrote and submitted."""
    from edms.cases.regimes import load_regimes

    regimes = load_regimes(signing.settings.forms_dir / "regimes", signing.document_types)
    with transaction(signing.sessions) as session:
        qa = session.get(User, signing.reviewer.id)
        case = create_case(session, context(qa), qa, regimes, CaseFacts(
            regime_key="jp_current", product="Autologous anti-CD19 CAR-T", lot="L2026-0412", patient_ref="PT-7Q4X",
            treating_site="Kansai University Hospital", site_timezone="Asia/Tokyo", physician_id=physician.id,
            oos_detected_at=datetime(2026, 11, 20, 0, 30, tzinfo=UTC)))
        doctor = session.get(User, physician.id)
        document = create_document(session, context(doctor), doctor, signing.document_types["informed_consent"],
                                   title=TITLES["informed_consent"], raw_values=dict(VALUES["informed_consent"]),
                                   case_id=case.id)
        from edms.documents.operations import submit

        submit(session, context(doctor), doctor, document)
        return document.id


@pytest.mark.req("11.10(g)")
def test_when_the_delegation_for_a_locked_physician_ends_her_record_is_stuck_and_delegating_is_advised(
        app, signing, physicians):
    mori, weber = physicians
    document_id = _consent_in_case(signing, mori)
    with transaction(signing.sessions) as session:
        actor = session.get(User, signing.admin.id)
        row = delegations.delegate(session, context(actor), actor, delegator=session.get(User, mori.id),
                                   delegate_to=session.get(User, weber.id), role="physician",
                                   starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(days=7),
                                   reason="Sudden sick leave; Dr Weber covers the ward")
        delegation_id = row.id
        doctor = session.get(User, mori.id)
        services = app.extensions["edms"]
        for _ in range(services.settings.password.lockout_threshold):
            register_failure(session, context(doctor), services.settings.password, doctor, "sign-in")
    assert _blocked(app, document_id) is None  # Dr Weber may sign for her
    with transaction(signing.sessions) as session:
        admin = session.get(User, signing.admin.id)
        delegations.revoke(session, context(admin), admin, session.get(Delegation, delegation_id), "Entered in error")
    blocked = _blocked(app, document_id)
    assert blocked.step.name == "physician_author" and list(_codes(blocked)) == ["Dr Yuki Mori"]
    assert c.DELEGATE in _advice(blocked) and c.UNLOCK in _advice(blocked)
    assert "Dr Yuki Mori" in blocked.missing.text.en


def _qa_release(app, signing, author: User) -> dm.Document:
    services, relied_on = app.extensions["edms"], signing.document().number
    with command(services.sessions) as session:
        user = session.get(User, author.id)
        return drafting.create_document(services, session, context(user), user, "qa_release",
                                        title=TITLES["qa_release"],
                                        raw_values={**VALUES["qa_release"], "relies_on": [relied_on]})


def _submit(app, person: User, document_id: int):
    services = app.extensions["edms"]
    with command(services.sessions) as session:
        user = session.get(User, person.id)
        return drafting.submit(services, session, context(user), user, session.get(dm.Document, document_id))


@pytest.mark.req("11.10(g)")
def test_a_qa_release_written_by_one_of_two_qa_people_and_reviewed_by_the_other_can_no_longer_be_approved(
        app, signing):
    for person in (signing.reviewer, signing.approver):
        signing.train(person, "qa", document_type=None)
    release = _qa_release(app, signing, signing.reviewer)
    _submit(app, signing.reviewer, release.id)  # accepted: Akiko may review, Hiroshi approve
    signing.sign(signing.approver, document_id=release.id, step="qa_review")
    blocked = _blocked(app, release.id)
    assert blocked.step.name == "qa_approval"
    assert _codes(blocked) == {"Akiko Tanaka": [c.AUTHOR], "Hiroshi Yamamoto": [c.SIGNED_OTHER]}
    assert c.REVISE in _advice(blocked) and c.GRANT in _advice(blocked)
    assert [s.document_id for s in _stuck(app, owner=signing.reviewer)] == [release.id]


@pytest.mark.req("11.10(g)")
@pytest.mark.req("11.10(e)")
def test_a_submission_nobody_ready_could_complete_is_refused_audited_and_changes_nothing(app, signing):
    _as_admin(app, signing, lambda s, db, ctx, admin: accounts.deactivate(
        s, db, ctx, db.get(User, signing.approver.id), "Left the company"))
    draft = signing.new_oos(submitted=False)
    with pytest.raises(SubmissionRefused) as refused:
        _submit(app, signing.author, draft.id)
    assert refused.value.blocked.step.name == "qa_approval"
    assert "cannot be submitted" in str(refused.value) and "Hiroshi Yamamoto" in str(refused.value)
    document = signing.document(draft.id)
    assert document.latest.status == dm.DRAFT and not document.latest.frozen
    with signing.sessions() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "document.submission_refused")).one()
    assert event.object_id == str(draft.id) and event.actor_id == signing.author.id
    assert "Hiroshi Yamamoto" in event.reason and "qa_approval" in event.changes


def test_the_api_refuses_the_submission_with_the_blocked_step_who_is_missing_and_the_advice(app, client, signing):
    _as_admin(app, signing, lambda s, db, ctx, admin: accounts.deactivate(
        s, db, ctx, db.get(User, signing.approver.id), "Left the company"))
    draft = signing.new_oos(submitted=False)
    response = client.post(f"/api/v1/documents/{draft.id}/submit", headers=bearer(client, "kenji.sato"))
    assert response.status_code == 409 and response.json["error"]["code"] == "not_completable"
    details = response.json["error"]["details"]
    assert details["step"] == "qa_approval" and details["missing"]["ja"]
    assert {p["printed_name"]: p["reasons"] for p in details["people"]}["Hiroshi Yamamoto"][:1] == ["inactive"]
    assert "grant" in [a["code"] for a in details["advice"]]
    assert "not_completable" in client.get("/api/v1/openapi.json").get_data(as_text=True)


def test_the_page_refuses_the_submission_and_says_why_in_english_and_japanese(app, client, signing):
    _as_admin(app, signing, lambda s, db, ctx, admin: accounts.deactivate(
        s, db, ctx, db.get(User, signing.approver.id), "Left the company"))
    draft = signing.new_oos(submitted=False)
    sign_in(client, "kenji.sato")
    token = csrf_token(client.get(f"/documents/{draft.id}").get_data(as_text=True))
    page = client.post(f"/documents/{draft.id}/submit", data={"csrf_token": token}, follow_redirects=True)
    text = page.get_data(as_text=True)
    assert "This version cannot be submitted" in text and "Hiroshi Yamamoto" in text
    client.post("/language", data={"language": "ja", "csrf_token": token})
    page = client.post(f"/documents/{draft.id}/submit", data={"csrf_token": token}, follow_redirects=True)
    assert "提出できません" in page.get_data(as_text=True)


def test_administrators_list_stuck_records_on_a_page_and_over_the_api_and_the_owner_sees_them(
        app, client, signing):
    document_id = _reviewed(signing)
    _as_admin(app, signing, lambda s, db, ctx, admin: accounts.deactivate(
        s, db, ctx, db.get(User, signing.approver.id), "Left the company"))
    items = client.get("/api/v1/stuck-records", headers=bearer(client, "daisuke.kato")).json["items"]
    assert [(i["document_id"], i["blocked"]["step"]) for i in items] == [(document_id, "qa_approval")]
    assert client.get("/api/v1/stuck-records", headers=bearer(client, "kenji.sato")).status_code == 403
    answer = client.get(f"/api/v1/documents/{document_id}/completability", headers=bearer(client, "kenji.sato")).json
    assert answer["in_review"] and not answer["completable"] and answer["blocked"]["step"] == "qa_approval"

    sign_in(client, "daisuke.kato")
    home = client.get("/").get_data(as_text=True)
    assert 'id="nav-stuck-records"' in home
    page = client.get("/admin/stuck-records/").get_data(as_text=True)
    assert signing.document(document_id).number in page and "Grant the role Quality assurance" in page
    client.post("/logout", data={"csrf_token": csrf_token(home)})

    sign_in(client, "kenji.sato")
    inbox = client.get("/tasks/").get_data(as_text=True)
    assert 'id="my-stuck-records"' in inbox and "Hiroshi Yamamoto" in inbox
    detail = client.get(f"/documents/{document_id}").get_data(as_text=True)
    assert 'id="routing-stuck"' in detail and "the account is deactivated" in detail
    assert client.get("/admin/stuck-records/").status_code == 403


def _sign_tasks(app, person, document_id):
    services = app.extensions["edms"]
    with services.sessions() as session:
        found = tasks_for(session, session.get(User, person.id), document_types=services.document_types,
                          regimes=services.regimes, now=datetime.now(UTC))
    return [t.step_name for t in found if t.kind == "sign" and t.document_id == document_id]


def test_a_signature_task_goes_only_to_people_ready_to_sign_it(app, signing):
    untrained = signing.people.make("mari.ito", "qa", printed_name="Mari Ito")
    signing.verify_identity(untrained)
    document_id = _reviewed(signing)
    assert _sign_tasks(app, signing.approver, document_id) == ["qa_approval"]
    assert _sign_tasks(app, untrained, document_id) == []
    signing.train(untrained, "qa")
    assert _sign_tasks(app, untrained, document_id) == ["qa_approval"]


def test_a_record_to_create_that_waits_for_a_prerequisite_says_so_and_is_not_counted(app, client, signing, physicians):
    mori, _weber = physicians
    services = app.extensions["edms"]
    with transaction(services.sessions) as session:
        qa = session.get(User, signing.reviewer.id)
        case = create_case(session, context(qa), qa, services.regimes, CaseFacts(
            regime_key="eu", product="Autologous anti-CD19 CAR-T", lot="E2026-0107", patient_ref="PT-EU3310",
            treating_site="Charité Berlin", site_timezone="Europe/Berlin", physician_id=mori.id,
            oos_detected_at=datetime(2026, 11, 20, 8, tzinfo=UTC)))
        case_id = case.id
    with services.sessions() as session:
        found = tasks_for(session, session.get(User, mori.id), document_types=services.document_types,
                          regimes=services.regimes, now=datetime.now(UTC))
    justification = next(t for t in found if t.case_id == case_id and t.type_key == "physician_justification")
    assert justification.waiting and "OOS" in " ".join(text.en for text in justification.waiting_for)
    response = client.get("/api/v1/tasks", headers=bearer(client, "yuki.mori")).json["items"]
    item = next(i for i in response if i["case_id"] == case_id and i["type"] == "physician_justification")
    assert item["waiting"] is True and item["waiting_for"][0]["ja"]
    sign_in(client, "yuki.mori")
    inbox = client.get("/tasks/").get_data(as_text=True)
    assert f'id="waiting-{case_id}-physician_justification"' in inbox
    actionable = [t for t in found if not t.waiting]
    home = client.get("/").get_data(as_text=True)
    assert f"You have {len(actionable)} task" in home
    assert OOS  # the case's OOS notification is QC's task, never the physician's


def test_a_signature_that_waits_for_the_cases_prerequisites_says_what_it_waits_for(app, client, signing, physicians):
    mori, _weber = physicians
    document_id = _consent_in_case(signing, mori)  # the OOS notification and the ethics approval are not approved
    services = app.extensions["edms"]
    with services.sessions() as session:
        found = tasks_for(session, session.get(User, mori.id), document_types=services.document_types,
                          regimes=services.regimes, now=datetime.now(UTC))
    task = next(t for t in found if t.kind == "sign" and t.document_id == document_id)
    assert task.waiting and task.waiting_for
    sign_in(client, "yuki.mori")
    assert 'class="task-waiting"' in client.get("/tasks/").get_data(as_text=True)
