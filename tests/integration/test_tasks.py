"""The task inbox: what each person must sign, revise or create next (issue 6)."""
from datetime import UTC, datetime

from edms.application.tasks import tasks_for
from edms.audit import AuditContext
from edms.cases.facts import CaseFacts
from edms.cases.operations import create_case
from edms.db import transaction
from edms.timeutil import utc_now
from edms.users.models import User
from tests.integration.signing_fixtures import OOS
from tests.integration.test_api import token_for


def tasks(app, person, kind=None):
    services = app.extensions["edms"]
    with services.sessions() as session:
        found = tasks_for(session, session.get(User, person.id), document_types=services.document_types,
                          regimes=services.regimes, now=utc_now())
    return [task for task in found if kind is None or task.kind == kind]


def sign_steps(app, person, document_id):
    return [task.step.en for task in tasks(app, person, "sign") if task.document_id == document_id]


def test_each_signer_is_asked_for_the_step_due_and_only_that(app, signing):
    doc = signing.document_id
    assert sign_steps(app, signing.author, doc) == ["Prepared by QC"]
    assert sign_steps(app, signing.reviewer, doc) == []  # QA waits for QC's signature
    signing.sign(signing.author)
    assert sign_steps(app, signing.author, doc) == []
    assert sign_steps(app, signing.reviewer, doc) == ["Reviewed by QA"]
    signing.sign(signing.reviewer)
    # The reviewer may not sign a second step; the approver is now asked to approve.
    assert sign_steps(app, signing.reviewer, doc) == []
    assert sign_steps(app, signing.approver, doc) == ["Approved by QA"]
    signing.sign(signing.approver)
    assert sign_steps(app, signing.approver, doc) == []


def test_the_author_is_never_asked_to_approve_their_own_document(app, signing):
    owner = signing.people.make("mari.ito", {"author", "qa"}, printed_name="Mari Ito")
    signing.author = owner
    document_id = signing.new_oos().id
    signing.author = signing.people.make("yuki.mori", "author", printed_name="Yuki Mori")
    signing.make_ready(signing.author, "author")
    signing.sign(signing.author, document_id=document_id)
    signing.sign(signing.reviewer, document_id=document_id)
    assert sign_steps(app, signing.approver, document_id) == ["Approved by QA"]
    assert sign_steps(app, owner, document_id) == []


def test_a_draft_is_its_owners_task(app, signing):
    draft = signing.new_oos(submitted=False)
    drafts = tasks(app, signing.author, "draft")
    assert [(t.document_id, t.status) for t in drafts] == [(draft.id, "draft")]
    assert tasks(app, signing.reviewer, "draft") == []


def open_case(app, person):
    services = app.extensions["edms"]
    with transaction(services.sessions) as session:
        user = session.get(User, person.id)
        case = create_case(session, AuditContext(user.id, user.printed_name), user, services.regimes, CaseFacts(
            regime_key="eu", product="Autologous anti-CD19 CAR-T", lot="E2026-0107", patient_ref="PT-EU3310",
            treating_site="Charité Berlin", site_timezone="Europe/Berlin", physician_id=None,
            oos_detected_at=datetime(2026, 11, 20, 8, tzinfo=UTC)))
        return case.id, case.reference


def test_a_record_missing_from_a_case_is_a_task_for_the_role_that_creates_it(app, signing):
    case_id, reference = open_case(app, signing.reviewer)
    missing = {t.type_key: t for t in tasks(app, signing.author, "case") if t.case_id == case_id}
    assert OOS in missing and missing[OOS].role == "author" and missing[OOS].case_reference == reference
    assert OOS not in {t.type_key for t in tasks(app, signing.reviewer, "case")}
    signing.new_oos()  # outside the case: the case still lacks its own
    assert OOS in {t.type_key for t in tasks(app, signing.author, "case") if t.case_id == case_id}


def test_the_tasks_page_and_the_api_list_the_same_tasks(app, client, signing):
    from tests.conftest import sign_in

    signing.sign(signing.author)
    token = token_for(client, "akiko.tanaka")
    response = client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    items = response.json["items"]
    assert [(i["kind"], i["document_id"], i["step"]) for i in items] == [
        (t.kind, t.document_id, t.step.en if t.step else None) for t in tasks(app, signing.reviewer)]
    assert ("sign", signing.document_id, "Reviewed by QA") in [(i["kind"], i["document_id"], i["step"]) for i in items]
    assert "/tasks" in client.get("/api/v1/openapi.json").get_data(as_text=True)
    sign_in(client, "akiko.tanaka")
    assert 'id="nav-tasks"' in client.get("/").get_data(as_text=True)
    page = client.get("/tasks/").get_data(as_text=True)
    assert f"/documents/{signing.document_id}/versions/1/sign" in page
