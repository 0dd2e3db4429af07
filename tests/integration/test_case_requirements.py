"""Requirements are visible before people sign (issue 12): the form shows what the case's regime needs of
each field and fills in what the case decides, a value that cannot open the gate is warned about at entry,
a record that could never satisfy its case's gate is refused at submission (audited), "records relied on"
accepts what the regime requires, and an existing record written outside a case can be attached to it."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from edms.audit.models import AuditEvent
from edms.db import transaction
from edms.documents import models as dm
from edms.users.models import User
from tests.conftest import bearer, csrf_token, sign_in
from tests.support.examples import VALUES
from tests.support.people import make_ready

LOT, PATIENT = "J2026-0088", "PT-JP4821"


def _case(client, team, regime: str) -> dict:
    """QA opens the case and names Dr Ito its treating physician (so the case is his to write in)."""
    created = client.post("/api/v1/cases", headers=team["akiko.tanaka"], json={"physician_id": team["physician_id"],
        "regime": regime, "product": "Autologous anti-CD19 CAR-T", "lot": LOT, "patient_ref": PATIENT,
        "treating_site": "Osaka University Hospital", "site_timezone": "Asia/Tokyo",
        "oos_detected_at": "2026-11-20T09:30:00+09:00"})
    assert created.status_code == 201, created.json
    return created.json


def _ethics(**changes: object) -> dict[str, object]:
    return {**VALUES["ethics_approval"], "patient_ref": PATIENT, **changes}


def _create(client, headers, type_key: str, values: dict, case_id: int | None = None, title: str = "Record"):
    body: dict[str, object] = {"type": type_key, "title": title, "values": values}
    if case_id is not None:
        body["case_id"] = case_id
    return client.post("/api/v1/documents", headers=headers, json=body)


def _events(app, action: str) -> list[AuditEvent]:
    with app.extensions["edms"].sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _ready_to_sign(people, roles: dict[str, str]) -> None:
    """An administrator checks the team's identity and training, so their records can be routed to them."""
    admin = people.make("maria.garcia", "admin", printed_name="Maria Garcia")
    with transaction(people.sessions) as session:
        for username, role in roles.items():
            person = session.scalar(select(User).where(User.username == username))
            make_ready(session, session.get(User, admin.id), person, role, known_types=())


@pytest.fixture
def team(client, people, organisation_pki):
    people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    physician = people.make("haruto.ito", "physician", printed_name="Haruto Ito")
    people.make("kenji.sato", "author", printed_name="Kenji Sato")
    _ready_to_sign(people, {"akiko.tanaka": "qa", "haruto.ito": "physician"})
    return {**{name: bearer(client, name) for name in ("akiko.tanaka", "haruto.ito", "kenji.sato")},
            "physician_id": physician.id}


# --- refused at submission ----------------------------------------------------------------------------


@pytest.mark.req("11.10(f)")
def test_an_ethics_record_of_the_wrong_review_is_refused_at_submission_naming_field_and_value(app, client, team):
    """JP today: the IRB must have approved the trial protocol; a per-use review can never open the gate."""
    case = _case(client, team, "jp_current")
    created = _create(client, team["haruto.ito"], "ethics_approval", _ethics(review_type="full_review"), case["id"])
    assert created.status_code == 201, created.json
    refused = client.post(f"/api/v1/documents/{created.json['id']}/submit", headers=team["haruto.ito"])
    assert refused.status_code == 400
    error = refused.json["error"]
    assert error["code"] == "requirement_not_met"
    assert "could never satisfy the gate of case " + case["reference"] in error["message"]
    assert "What was reviewed" in error["message"]
    assert "Protocol (clinical trial or expanded-access protocol)" in error["message"]
    assert "protocol_approval" not in error["message"] and "review_type" not in error["message"]
    assert list(error["details"]) == ["review_type"]
    # Nothing was submitted, and the refusal is in the audit trail, in the case's history.
    document = client.get(f"/api/v1/documents/{created.json['id']}", headers=team["haruto.ito"]).json
    assert document["status"] == "draft" and document["versions"][0]["frozen_at"] is None
    [event] = _events(app, "document.submission_refused")
    assert event.case_id == str(case["id"]) and "What was reviewed" in (event.reason or "")


def test_the_corrected_record_is_submitted(client, team):
    case = _case(client, team, "jp_current")
    created = _create(client, team["haruto.ito"], "ethics_approval", _ethics(review_type="full_review"), case["id"])
    document_id = created.json["id"]
    assert client.post(f"/api/v1/documents/{document_id}/submit", headers=team["haruto.ito"]).status_code == 400
    fixed = client.put(f"/api/v1/documents/{document_id}", headers=team["haruto.ito"],
                       json={"values": _ethics(review_type="protocol_approval")})
    assert fixed.status_code == 200, fixed.json
    submitted = client.post(f"/api/v1/documents/{document_id}/submit", headers=team["haruto.ito"])
    assert submitted.status_code == 200, submitted.json


def test_a_decision_of_the_other_outcome_is_a_true_record_and_is_submitted(client, team):
    """A committee's refusal keeps the gate closed, but it must be recordable: outcomes are never refused."""
    case = _case(client, team, "jp_current")
    created = _create(client, team["haruto.ito"], "ethics_approval",
                      _ethics(review_type="protocol_approval", decision="not_approved"), case["id"])
    assert client.post(f"/api/v1/documents/{created.json['id']}/submit", headers=team["haruto.ito"]).status_code == 200


def test_a_record_outside_any_case_is_submitted_as_before(client, team):
    created = _create(client, team["haruto.ito"], "ethics_approval", _ethics(review_type="full_review"))
    assert client.post(f"/api/v1/documents/{created.json['id']}/submit", headers=team["haruto.ito"]).status_code == 200


# --- references accept what the regime requires ---------------------------------------------------------


def test_records_relied_on_accept_the_ethics_record_the_regime_requires_before_release(client, team):
    case = _case(client, team, "jp_proposed")
    ethics = _create(client, team["haruto.ito"], "ethics_approval", _ethics(), case["id"]).json["number"]
    values = {**VALUES["qa_release"], "lot": LOT, "relies_on": [ethics]}
    in_case = _create(client, team["akiko.tanaka"], "qa_release", values, case["id"])
    assert in_case.status_code == 201, in_case.json
    # Outside a case the field keeps its own list, and says so by the types' names, never their keys.
    outside = _create(client, team["akiko.tanaka"], "qa_release", values)
    assert outside.status_code == 400
    message = outside.json["error"]["details"]["relies_on"]
    assert "OOS notification" in message and ethics in message
    assert "oos_notification" not in message and "physician_justification" not in message


# --- attaching an existing record ---------------------------------------------------------------------


def _oos(**changes: object) -> dict[str, object]:
    return {**VALUES["oos_notification"], "lot": LOT, "patient_ref": PATIENT, **changes}


@pytest.mark.req("11.10(e)")
def test_a_record_written_outside_the_case_is_attached_with_a_reason_and_counted(app, client, team):
    case = _case(client, team, "jp_current")
    before = {item["type"]: item for item in case["checklist"]}
    assert not any(d["type"] == "oos_notification" for d in case["documents"])
    oos = _create(client, team["kenji.sato"], "oos_notification", _oos()).json
    attached = client.post(f"/api/v1/cases/{case['id']}/records", headers=team["kenji.sato"],
                           json={"number": oos["number"], "reason": "Written before the case was opened"})
    assert attached.status_code == 200, attached.json
    assert [d["number"] for d in attached.json["documents"]] == [oos["number"]]
    assert before["oos_notification"]["satisfied"] is False
    document = client.get(f"/api/v1/documents/{oos['id']}", headers=team["kenji.sato"]).json
    assert document["case_id"] == case["id"]
    [event] = _events(app, "document.attached_to_case")
    assert event.reason == "Written before the case was opened" and event.case_id == str(case["id"])
    assert f'"case_id":{{"new":{case["id"]},"old":null}}' in event.changes.replace(" ", "")


@pytest.mark.parametrize(("setup", "message"), [
    ("other_lot", "names Lot number J2026-0999, but case"),
    ("other_case", "already belongs to case"),
    ("unused_type", "which case"),
    ("no_reason", "A reason is required"),
])
def test_attaching_refuses_what_does_not_belong_with_a_clear_message(app, client, team, setup, message):
    case = _case(client, team, "jp_current")
    if setup == "other_lot":
        number = _create(client, team["kenji.sato"], "oos_notification", _oos(lot="J2026-0999")).json["number"]
    elif setup == "other_case":
        other = _case(client, team, "jp_current")
        number = _create(client, team["kenji.sato"], "oos_notification", _oos(), other["id"]).json["number"]
    elif setup == "unused_type":  # the MAH's quality agreement is an EU record
        agreement = _create(client, team["akiko.tanaka"], "mah_agreement",
                            {**VALUES["mah_agreement"], "importer": "none"})
        assert agreement.status_code == 201, agreement.json
        number = agreement.json["number"]
    else:
        number = _create(client, team["kenji.sato"], "oos_notification", _oos()).json["number"]
    reason = "" if setup == "no_reason" else "Found in the QC archive"
    refused = client.post(f"/api/v1/cases/{case['id']}/records", headers=team["kenji.sato"],
                          json={"number": number, "reason": reason})
    assert refused.status_code == 400
    assert message in refused.json["error"]["message"]
    if setup == "unused_type":
        assert "Manufacturer-MAH written agreement (OOS supply)" in refused.json["error"]["message"]
        assert "mah_agreement" not in refused.json["error"]["message"]
    assert _events(app, "document.attached_to_case") == []


def test_the_attach_page_refuses_in_japanese_and_attaches(app, client, people, team):
    case = _case(client, team, "jp_current")
    wrong = _create(client, team["kenji.sato"], "oos_notification", _oos(lot="J2026-0999")).json["number"]
    right = _create(client, team["kenji.sato"], "oos_notification", _oos()).json["number"]
    assert client.put("/api/v1/me/language", json={"language": "ja"}, headers=team["kenji.sato"]).status_code == 200
    sign_in(client, "kenji.sato")
    page = client.get(f"/cases/{case['id']}/attach").get_data(as_text=True)
    assert right in page and wrong not in page  # only records of the case's lot and patient are offered
    token = csrf_token(page)
    refused = client.post(f"/cases/{case['id']}/attach", data={"number": wrong, "reason": "QC archive",
                                                              "csrf_token": token}).get_data(as_text=True)
    assert "ロット番号" in refused and "J2026-0999" in refused
    done = client.post(f"/cases/{case['id']}/attach", data={"number": right, "reason": "QC archive",
                                                           "csrf_token": token}, follow_redirects=True)
    assert f"{right} を案件 {case['reference']} に追加しました。" in done.get_data(as_text=True)


# --- the form -----------------------------------------------------------------------------------------


def test_the_form_shows_the_requirement_fills_it_in_and_warns_at_entry(app, client, team):
    case = _case(client, team, "jp_current")
    sign_in(client, "haruto.ito")
    page = client.get(f"/documents/new/ethics_approval?case={case['id']}").get_data(as_text=True)
    assert 'id="requirement-review_type"' in page
    assert "Required in this case" in page and "Protocol (clinical trial or expanded-access protocol)" in page
    assert '<option value="protocol_approval" selected>' in page
    # A decision is shown, never filled in for the committee.
    assert 'id="requirement-decision"' in page and '<option value="approved" selected>' not in page
    created = _create(client, team["haruto.ito"], "ethics_approval", _ethics(review_type="chair_concurrence"),
                      case["id"]).json
    edit = client.get(f"/documents/{created['id']}/edit").get_data(as_text=True)
    assert 'id="warning-review_type"' in edit and "could never satisfy the case&#39;s gate" in edit
    detail = client.get(f"/documents/{created['id']}").get_data(as_text=True)  # said again before submitting
    assert 'id="submit-warning-review_type"' in detail and f'id="document-case">{case["reference"]}' in detail
    with app.extensions["edms"].sessions() as session:
        assert session.get(dm.Document, created["id"]).status == dm.DRAFT


def test_the_api_says_what_the_case_requires_of_a_record_before_it_is_written(client, team):
    case = _case(client, team, "jp_proposed")
    answer = client.get(f"/api/v1/cases/{case['id']}/requirements/ethics_approval", headers=team["haruto.ito"])
    assert answer.status_code == 200, answer.json
    by_field = {item["field"]: item for item in answer.json["requirements"]}
    assert by_field["committee_type"]["prefill"] == "institutional_ethics_committee"
    assert by_field["committee_type"]["outcome"] is False
    assert by_field["decision"]["outcome"] is True and by_field["decision"]["prefill"] is None
    assert "実施医療機関の倫理審査委員会" in by_field["committee_type"]["text"]["ja"]
    release = client.get(f"/api/v1/cases/{case['id']}/requirements/qa_release", headers=team["akiko.tanaka"]).json
    assert "ethics_approval" in release["accepted_references"]["relies_on"]
    assert client.get(f"/api/v1/cases/{case['id']}/requirements/nonesuch",
                      headers=team["akiko.tanaka"]).status_code == 404
