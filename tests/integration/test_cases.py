"""The case file: one OOS lot for one patient under one regime; what it needs, who acts next, its clocks."""
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from edms.audit.models import AuditEvent
from edms.cases import models as cm
from tests.conftest import csrf_token, sign_in

TOKYO_CASE = {
    "regime_key": "jp_proposed", "product": "Autologous cultured cartilage (JACC)", "lot": "J2026-0088",
    "patient_ref": "PT-JP4821", "treating_site": "Osaka University Hospital", "site_timezone": "Asia/Tokyo",
    "oos_detected_at": "2026-11-20T09:30",
}


def open_case(client, data=TOKYO_CASE):
    page = client.get("/cases/new").get_data(as_text=True)
    return client.post("/cases/new", data={**data, "csrf_token": csrf_token(page)})


def events(app, action):
    with app.extensions["edms"].sessions() as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


@pytest.fixture
def qa_client(client, people):
    people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    sign_in(client, "akiko.tanaka")
    return client


@pytest.mark.req("11.10(e)")
def test_qa_opens_a_case_and_sees_what_the_regime_needs_and_who_acts_next(app, qa_client):
    response = open_case(qa_client)
    assert response.status_code == 302
    page = qa_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "CASE-" in page and "J2026-0088" in page and "PT-JP4821" in page
    for record in ("oos_notification", "physician_justification", "informed_consent", "ethics_approval", "qa_release"):
        assert f'id="checklist-{record}"' in page
    assert "must be approved first" in page  # the release record is gated by its prerequisites
    created = events(app, "case.created")[-1]
    assert '"lot":{"new":"J2026-0088"' in created.changes and created.case_id is not None


def test_a_patient_name_is_refused_as_patient_reference(app, qa_client):
    response = open_case(qa_client, {**TOKYO_CASE, "patient_ref": "Taro Yamada"})
    assert "pseudonymous code" in response.get_data(as_text=True)
    with app.extensions["edms"].sessions() as session:
        assert session.scalars(select(cm.Case)).all() == []


@pytest.mark.req("A11-9")
def test_changing_a_recorded_date_needs_a_reason_and_keeps_the_earlier_value(app, qa_client):
    location = open_case(qa_client).headers["Location"]
    page = qa_client.get(location).get_data(as_text=True)
    token = csrf_token(page)
    qa_client.post(f"{location}/dates", data={"key": "planned_administration", "value": "2026-12-01T10:00", "csrf_token": token})
    refused = qa_client.post(f"{location}/dates", data={"key": "planned_administration", "value": "2026-12-02T10:00",
                                                        "csrf_token": token}, follow_redirects=True)
    assert "A reason is required" in refused.get_data(as_text=True)
    qa_client.post(f"{location}/dates", data={"key": "planned_administration", "value": "2026-12-02T10:00",
                                              "reason": "bed availability", "csrf_token": token})
    with app.extensions["edms"].sessions() as session:
        case = session.scalars(select(cm.Case)).one()
        rows = [(row.value, row.reason) for row in case.dates if row.key == "planned_administration"]
    tokyo = timezone(timedelta(hours=9))
    assert rows == [(datetime(2026, 12, 1, 10, tzinfo=tokyo), None),
                    (datetime(2026, 12, 2, 10, tzinfo=tokyo), "bed availability")]
    changed = events(app, "case.date_recorded")[-1]
    assert changed.reason == "bed availability" and "2026-12-01T01:00:00+00:00" in changed.changes


@pytest.mark.req("11.10(f)")
def test_eu_notification_clock_runs_48_hours_from_administration(app, qa_client):
    location = open_case(qa_client, {**TOKYO_CASE, "regime_key": "eu", "site_timezone": "Europe/Berlin",
                                     "treating_site": "Charité Berlin", "lot": "E2026-0107"}).headers["Location"]
    token = csrf_token(qa_client.get(location).get_data(as_text=True))
    qa_client.post(f"{location}/dates", data={"key": "administration", "value": "2026-10-24T14:00", "csrf_token": token})
    response = qa_client.get(f"/api/v1/cases/{location.rsplit('/', 1)[1]}")  # no token: refused
    assert response.status_code == 401
    from edms.cases.queries import case_status

    with app.extensions["edms"].sessions() as session:
        case = session.scalars(select(cm.Case)).one()
        status = case_status(session, case, app.extensions["edms"].document_types, app.extensions["edms"].regimes,
                             now=datetime(2026, 10, 25, 12, tzinfo=UTC))
    ema = [d for d in status.deadlines if d.deadline.anchor.text == "case.administration" and d.deadline.offset.unit == "hours"]
    assert ema, "the EU regime clocks its notification from administration"
    # 48 h of elapsed time across the end of summer time in Berlin (25 October 2026).
    assert ema[0].due_at == datetime(2026, 10, 24, 12, tzinfo=UTC) + timedelta(hours=48)


def test_cases_over_the_api(app, client, people):
    people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    token = client.post("/api/v1/auth/token", json={"username": "akiko.tanaka", "password": "Correct-Horse-2026!"}).json["token"]
    headers = {"Authorization": f"Bearer {token}"}
    created = client.post("/api/v1/cases", headers=headers, json={
        "regime": "us", "product": "Autologous anti-CD19 CAR-T", "lot": "U2026-0311", "patient_ref": "PT-US0917",
        "treating_site": "MD Anderson Cancer Center", "site_timezone": "America/Chicago",
        "oos_detected_at": "2026-11-18T16:00:00-06:00"})
    assert created.status_code == 201, created.json
    case = created.json
    assert case["jurisdiction"] == "US" and case["checklist"] and case["deadlines"] is not None
    missing_offset = client.post(f"/api/v1/cases/{case['id']}/dates", headers=headers,
                                 json={"key": "administration", "value": "2026-12-01T10:00"})
    assert missing_offset.status_code == 400
    listed = client.get("/api/v1/cases?lot=U2026-0311", headers=headers).json["items"]
    assert [c["reference"] for c in listed] == [case["reference"]]


def test_physicians_do_not_open_cases_and_inspectors_cannot_write(client, people):
    people.make("yuki.mori", "physician")
    sign_in(client, "yuki.mori")
    assert client.get("/cases/new").status_code == 403


@pytest.mark.req("11.10(f)")
def test_the_deadline_dashboard_lists_open_clocks_for_qa(app, qa_client):
    location = open_case(qa_client, {**TOKYO_CASE, "regime_key": "eu", "site_timezone": "Europe/Berlin",
                                     "treating_site": "Charité Berlin", "lot": "E2026-0107"}).headers["Location"]
    token = csrf_token(qa_client.get(location).get_data(as_text=True))
    qa_client.post(f"{location}/dates", data={"key": "administration", "value": "2026-10-24T14:00", "csrf_token": token})
    page = qa_client.get("/cases/deadlines").get_data(as_text=True)
    assert "E2026-0107" in page and "overdue" in page.lower()


@pytest.mark.req("11.10(f)")
def test_the_release_record_of_a_case_cannot_be_signed_before_its_prerequisites_are_approved(app, signing):
    """EU case: QA's release record waits for the OOS notification, the physician's request and the rest."""
    from edms.audit import AuditContext
    from edms.cases.facts import CaseFacts
    from edms.cases.operations import create_case
    from edms.db import transaction
    from edms.documents.operations import create_document, submit
    from edms.signatures.ceremony import SigningEnvironment
    from edms.users.models import User
    from edms.workflow.refusals import SigningRefused

    services = app.extensions["edms"]
    signing.environment = lambda: SigningEnvironment.from_settings(services.settings, services.record_gates)
    reviewer = signing.reviewer
    signing.train(reviewer, "qa", document_type="qa_release")
    oos_number = signing.document().number
    with transaction(services.sessions) as session:
        qa = session.get(User, reviewer.id)
        ctx = AuditContext(qa.id, qa.printed_name)
        case = create_case(session, ctx, qa, services.regimes, CaseFacts(
            regime_key="eu", product="Autologous anti-CD19 CAR-T", lot="E2026-0107", patient_ref="PT-EU3310",
            treating_site="Charité Berlin", site_timezone="Europe/Berlin", physician_id=None,
            oos_detected_at=datetime(2026, 11, 20, 8, tzinfo=UTC)))
        release = create_document(session, ctx, qa, services.document_types["qa_release"], title="Exceptional release",
                                  raw_values={"lot": "E2026-0107", "oos_result": "Viability 72 % (spec ≥ 80 %)",
                                              "relies_on": [oos_number], "release_decision": "release"},
                                  case_id=case.id)
        submit(session, ctx, qa, release)
        release_id = release.id
    with pytest.raises(SigningRefused, match="must be approved first"):
        signing.sign(reviewer, document_id=release_id)
    assert signing.signatures(release_id) == []


def test_a_regime_sentence_in_a_refusal_is_shown_in_the_readers_language(app):
    from edms.definitions import LocalizedText
    from edms.errors import N_
    from edms.web.i18n import translate_error
    from edms.workflow.refusals import SequenceRefused

    error = SequenceRefused(N_("This record cannot be signed yet: %(reasons)s"), reasons=LocalizedText.join([
        LocalizedText("Physician justification must be approved first.", "医師の判断書の承認が先に必要です。"),
        LocalizedText("Informed consent must be approved first.", "同意の記録の承認が先に必要です。")]))
    assert str(error) == ("This record cannot be signed yet: Physician justification must be approved first. "
                          "Informed consent must be approved first.")  # the audit trail and the API: English
    with app.test_request_context(headers={"Accept-Language": "ja"}):
        shown = translate_error(error)
    assert shown.endswith("医師の判断書の承認が先に必要です。同意の記録の承認が先に必要です。")
    assert "must be approved" not in shown
