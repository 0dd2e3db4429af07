"""The demo cases carried to release over the JSON API alone, by the demo people, with their bearer tokens.

The demo data are built as `edms demo` builds them (edms.demo.create_demo_users, then
edms.demo_cases.create_demo_cases, each in its own transaction): one OOS case per regime whose OOS
notification (and, in the proposed Japanese framework, the list of waivable items) is already signed by
QC and two QA people. From there every record is written, submitted and signed through /api/v1 by the
demo user of the right role, re-entering their user name and password for each signature (the token alone
never signs), until QA has released the lot and the reports the regime asks for after administration are
approved. The wrong people are refused along the way: QA on a physician's step, another physician than
the case's, the author approving their own record, a step before the one it follows, a record before the
records it depends on, and the inspector, who reads everything and writes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from edms.db import transaction
from edms.demo import DEMO_PASSWORD, create_demo_users
from edms.demo_cases import create_demo_cases
from tests.support.documents import Api, realistic_values

QA, SECOND_QA, REGULATORY, AUTHOR, INSPECTOR = "akiko.tanaka", "hiroshi.yamamoto", "naoko.ito", "kenji.sato", "john.carter"
PHYSICIANS = ("yuki.mori", "emily.chen", "lukas.weber")
ROLE_PEOPLE = {"author": (AUTHOR,), "qa": (QA, SECOND_QA), "regulatory": (REGULATORY,)}
WRITERS = {"author": AUTHOR, "qa": QA, "regulatory": REGULATORY}
DEMO_LOTS = {"jp_current": "L2026-0412", "jp_proposed": "J2026-0088", "us": "U2026-0311", "eu": "E2026-0107",
             "us_emergency": "U2026-0344"}


def build_demo(services) -> None:
    """What `edms demo` does (edms/cli.py), with the app's own settings, types and regimes."""
    with transaction(services.sessions) as session:
        create_demo_users(services, session)
    with transaction(services.sessions) as session:
        create_demo_cases(services, session, DEMO_PASSWORD)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def step_roles(step: dict) -> list[str]:
    return list(step.get("roles") or [step["role"]])


@dataclass
class DemoCaseOverApi:
    """One demo case, worked on over the API by the demo people."""

    app: object
    client: object
    regime: str
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    api: dict[str, Api] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    case: dict = field(default_factory=dict)
    types: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for username in (QA, SECOND_QA, REGULATORY, AUTHOR, INSPECTOR, *PHYSICIANS):
            self.api[username] = Api(self.client, username, DEMO_PASSWORD)
            self.ids[username] = self.api[username].get("/me").json["id"]
        self.types = {t["key"]: t for t in self.api[QA].get("/document-types").json["items"]}
        [found] = self.api[QA].get(f"/cases?lot={DEMO_LOTS[self.regime]}").json["items"]
        self.refresh(found["id"])

    @property
    def physician(self) -> str:
        return next(name for name, uid in self.ids.items() if uid == self.case["physician_id"])

    def refresh(self, case_id: int | None = None) -> dict:
        response = self.api[INSPECTOR].get(f"/cases/{case_id or self.case['id']}")  # the inspector reads it all
        assert response.status_code == 200, response.json
        self.case = response.json
        return self.case

    def item(self, type_key: str) -> dict:
        return next(item for item in self.refresh()["checklist"] if item["type"] == type_key)

    def numbers(self, *type_keys: str) -> list[str]:
        return [d["number"] for d in self.refresh()["documents"] if d["type"] in type_keys and d["status"] != "withdrawn"]

    def writer(self, type_key: str) -> str:
        role = step_roles(self.types[type_key]["steps"][0])[0]
        return self.physician if role == "physician" else WRITERS[role]

    def values(self, type_key: str, overrides: dict | None = None) -> dict:
        doc_type = self.app.extensions["edms"].document_types[type_key]
        values = realistic_values(doc_type)
        for name in ("lot", "patient_ref", "product"):
            if name in values:
                values[name] = self.case[name]
        documents = [d for d in self.refresh()["documents"] if d["status"] != "withdrawn"]
        for spec in self.types[type_key]["fields"]:
            if spec["type"] == "document_refs" and spec["ref_types"]:
                values[spec["name"]] = [d["number"] for d in documents if d["type"] in spec["ref_types"]]
        values.update(overrides or {})
        return values

    def create(self, type_key: str, overrides: dict | None = None, *, by: str | None = None) -> dict:
        """A draft filed in the case, submitted; returns the document."""
        by = by or self.writer(type_key)
        title = f"{self.types[type_key]['name']['en']}, lot {self.case['lot']} ({self.case['patient_ref']})"
        values = self.values(type_key, overrides)
        created = self.api[by].post("/documents", json={"type": type_key, "title": title, "values": values,
                                                        "case_id": self.case["id"]})
        assert created.status_code == 201 and created.json["case_id"] == self.case["id"], created.json
        document = created.json
        submitted = self.api[by].post(f"/documents/{document['id']}/submit")
        assert submitted.status_code == 200, submitted.json
        return self.api[by].get(f"/documents/{document['id']}").json

    def sign(self, document: dict, step: str, who: str, *, version: int | None = None, password: str | None = None):
        number = version or document["current_version"]
        return self.api[who].post(f"/documents/{document['id']}/versions/{number}/signatures", json={
            "username": who, "password": password or DEMO_PASSWORD, "step": step})

    def refused(self, document: dict, step: str, who: str, status: int, text: str, **kwargs) -> dict:
        response = self.sign(document, step, who, **kwargs)
        assert response.status_code == status and text in response.json["error"]["message"], response.json
        return response.json["error"]

    def signer_for(self, document: dict, step: dict, signed: dict[str, list[str]]) -> str:
        """A demo user the routing rules allow; `signed` is {step name: user names} of this version so far."""
        roles = step_roles(step)
        if "physician" in roles:
            return self.physician
        others = {name for other, names in signed.items() if other != step["name"] for name in names}
        for role in roles:
            for username in ROLE_PEOPLE.get(role, ()):
                if username in signed.get(step["name"], []) or (username in others and not step["allow_same_signer"]):
                    continue
                if self.ids[username] == document["owner_id"] and step["meaning"] == "approved":
                    continue
                return username
        raise AssertionError(f"no demo user left to sign {step['name']}")

    def sign_all(self, document: dict) -> dict:
        """Every step of a version nobody has signed yet, in definition order, each by an allowed demo user."""
        signed: dict[str, list[str]] = {}
        for step in self.types[document["type"]]["steps"]:
            for _ in range(step["approvals"]):
                who = self.signer_for(document, step, signed)
                made = self.sign(document, step["name"], who)
                assert made.status_code == 201, (step["name"], who, made.json)
                assert made.json["signature"]["verification"]["valid"]
                assert made.json["signature"]["printed_name"] and made.json["signature"]["signed_at"].endswith("Z")
                signed.setdefault(step["name"], []).append(who)
        document = self.api[QA].get(f"/documents/{document['id']}").json
        assert document["status"] == "approved", document
        return document

    def record(self, key: str, value: datetime, who: str) -> None:
        response = self.api[who].post(f"/cases/{self.case['id']}/dates", json={"key": key, "value": iso(value)})
        assert response.status_code == 200, response.json

    def answer(self, key: str, answer: bool, who: str):
        return self.api[who].post(f"/cases/{self.case['id']}/answers", json={"key": key, "answer": answer})


def wrong_people_are_refused_on_a_physician_record(demo: DemoCaseOverApi, document: dict) -> None:
    """QA cannot sign a physician's step, nor can another physician than the case's (a physician of another
    site: for them the case's records do not exist); the inspector writes nothing."""
    first = demo.types[document["type"]]["steps"][0]["name"]
    error = demo.refused(document, first, QA, 403, "Only holders of the role")
    assert error["code"] == "forbidden"
    other = next(name for name in PHYSICIANS if name != demo.physician)
    demo.refused(document, first, other, 404, "No such case or record")
    inspector = demo.sign(document, first, INSPECTOR)
    assert inspector.status_code == 403 and "read-only" in inspector.json["error"]["message"]


def release_by_two_qa_people(demo: DemoCaseOverApi, release: dict) -> dict:
    """The early release draft gets a new version relying on every record (a reason is required); QA reviews,
    the same QA person (its author) cannot approve, the second QA person approves; no step out of order."""
    values = demo.values("qa_release")
    no_reason = demo.api[QA].put(f"/documents/{release['id']}", json={"values": values})
    assert no_reason.status_code == 400 and no_reason.json["error"]["code"] == "reason_required"
    revised = demo.api[QA].put(f"/documents/{release['id']}", json={
        "values": values, "reason": "Every record the release relies on is approved: listed."})
    assert revised.status_code == 201 and revised.json["version"] == 2, revised.json
    assert demo.api[QA].post(f"/documents/{release['id']}/submit").status_code == 200
    release = demo.api[QA].get(f"/documents/{release['id']}").json
    demo.refused(release, "qa_review", QA, 409, "superseded", version=1)
    demo.refused(release, "qa_approval", SECOND_QA, 409, "not due yet")
    assert demo.sign(release, "qa_review", QA).status_code == 201
    demo.refused(release, "qa_approval", QA, 403, "cannot approve")
    assert demo.sign(release, "qa_approval", SECOND_QA).status_code == 201
    return demo.api[QA].get(f"/documents/{release['id']}").json


def assert_released_and_complete(demo: DemoCaseOverApi, clocks: dict[str, str]) -> None:
    case = demo.refresh()
    assert {item["type"]: item["blockers"] + item["shortfalls"] for item in case["checklist"]
            if item["applies"] is not False and not item["satisfied"]} == {}
    assert case["administration_blockers"] == []
    states = {d["key"]: d["state"] for d in case["deadlines"]}
    assert {key: states.get(key) for key in clocks} == clocks
    assert {key: state for key, state in states.items() if state not in ("met", "not_applicable")} == {}


def refusals_are_in_the_audit_trail_for_the_inspector(demo: DemoCaseOverApi, at_least: int, *,
                                                      verify: bool = False) -> None:
    events = demo.api[INSPECTOR].get(f"/audit?action=signature.refused&case_id={demo.case['id']}&limit=500").json["items"]
    assert len(events) >= at_least and all(event["reason"] for event in events)
    if verify:  # the whole chain and every signature, as the inspector checks them
        report = demo.api[INSPECTOR].get("/audit/verify").json
        assert report["ok"], report


@pytest.fixture
def demo_data(app, organisation_pki):
    build_demo(app.extensions["edms"])
    return app


# --- the four demo cases ------------------------------------------------------------------------------------


@pytest.mark.req("11.10(f)", "11.10(g)")
def test_demo_jp_current_case_released_over_the_api_and_its_safety_report(demo_data, client):
    demo = DemoCaseOverApi(demo_data, client, "jp_current")
    now, physician = demo.now, demo.physician
    assert physician == "yuki.mori" and demo.item("oos_notification")["satisfied"]

    release = demo.create("qa_release")
    error = demo.refused(release, "qa_review", QA, 409, "must be approved first")
    assert error["code"] == "conflict"
    inspector = demo.api[INSPECTOR].post("/documents", json={"type": "deviation_report", "title": "x", "values": {}})
    assert inspector.status_code == 403 and "read-only" in inspector.json["error"]["message"]

    demo.sign_all(demo.create("regulatory_notification", {
        "authority": "pmda", "jurisdiction": "JP", "notified_at": iso(now - timedelta(days=200)),
        "what_notified": "Clinical trial notification (治験計画届) of the trial under which the lot is supplied."}))
    ethics = demo.create("ethics_approval", {
        "committee_name": "Osaka University Hospital IRB (治験審査委員会)", "committee_type": "gcp_irb",
        "review_type": "protocol_approval", "patient_ref": None, "decision": "approved",
        "submitted_at": iso(now - timedelta(days=190)), "decision_date": (now - timedelta(days=180)).date().isoformat(),
        "valid_until": (now + timedelta(days=180)).date().isoformat()})
    wrong_people_are_refused_on_a_physician_record(demo, ethics)
    demo.sign_all(ethics)
    demo.sign_all(demo.create("institution_head_approval", {
        "institution": "Osaka University Hospital", "head_name": "Director of Osaka University Hospital",
        "protocol_number": "CART-JP-301", "decision": "approved",
        "decided_on": (now - timedelta(days=178)).date().isoformat(), "irb_opinion": demo.numbers("ethics_approval")}))
    deviation = demo.create("deviation_report")
    demo.refused(deviation, "qa_approval", SECOND_QA, 409, "not due yet")
    demo.sign_all(deviation)
    demo.sign_all(demo.create("physician_justification"))
    demo.sign_all(demo.create("informed_consent", {"consent_date": now.date().isoformat()}))
    release_by_two_qa_people(demo, release)
    assert demo.refresh()["administration_blockers"] == []

    demo.record("administration", now + timedelta(hours=1), physician)
    assert demo.api[INSPECTOR].post(f"/cases/{demo.case['id']}/dates", json={
        "key": "decision", "value": iso(now)}).status_code == 403
    assert demo.answer("adverse_event", True, QA).status_code == 400  # the physician answers it
    assert demo.answer("adverse_event", True, physician).status_code == 200
    report = demo.create("safety_report", {
        "awareness_at": iso(now + timedelta(days=2)), "onset_date": (now + timedelta(days=2)).date().isoformat(),
        "submitted_at": iso(now + timedelta(days=6)), "reporting_category": "fifteen_day",
        "expectedness": "unexpected", "report_to": ["pmda"], "related_documents": demo.numbers("qa_release")})
    demo.refused(report, "regulatory_assessment", REGULATORY, 409, "not due yet")
    demo.sign_all(report)
    assert_released_and_complete(demo, {})
    refusals_are_in_the_audit_trail_for_the_inspector(demo, at_least=7, verify=True)


@pytest.mark.req("11.10(f)", "11.10(g)")
def test_demo_us_case_released_over_the_api_after_fda_allowed_earlier_treatment(demo_data, client):
    demo = DemoCaseOverApi(demo_data, client, "us")
    now, physician = demo.now, demo.physician
    assert physician == "emily.chen"
    letter = demo.create("letter_of_authorization", {"physician_name": "Emily Chen, MD",
                                                     "issued_on": now.date().isoformat()})
    demo.refused(letter, "qa_approval", QA, 409, "not due yet")
    demo.sign_all(letter)
    justification = demo.create("physician_justification", {"urgency": "urgent"})
    wrong_people_are_refused_on_a_physician_record(demo, justification)
    demo.sign_all(justification)
    acknowledgement = demo.create("fda_acknowledgement", {
        "physician_name": "Emily Chen, MD", "submitted_at": iso(now - timedelta(days=1, hours=2)),
        "fda_received_at": iso(now - timedelta(days=1)), "earlier_treatment_allowed": True,
        "earlier_treatment_allowed_at": iso(now - timedelta(hours=3))})
    demo.sign_all(acknowledgement)
    demo.sign_all(demo.create("ethics_approval", {
        "committee_name": "MD Anderson IRB", "committee_type": "irb_21cfr56", "review_type": "chair_concurrence",
        "decision": "approved", "submitted_at": iso(now - timedelta(days=1)), "decision_date": now.date().isoformat()}))
    demo.sign_all(demo.create("informed_consent", {"consent_date": now.date().isoformat()}))
    release = demo.create("qa_release")
    error = demo.refused(release, "qa_review", QA, 409, "must be approved first")
    assert "Deviation report" in error["message"]
    demo.sign_all(demo.create("deviation_report"))
    release_by_two_qa_people(demo, release)

    demo.record("administration", now + timedelta(hours=1), physician)
    assert demo.answer("adverse_event", False, physician).status_code == 200
    assert demo.answer("unanticipated_problem", False, physician).status_code == 200
    demo.sign_all(demo.create("treatment_summary", {
        "treatment_concluded_at": iso(now + timedelta(days=7)), "submitted_at": iso(now + timedelta(days=9)),
        "related_documents": demo.numbers("qa_release")}))
    assert_released_and_complete(demo, {"treatment_not_before_30_days": "not_applicable",
                                        "treatment_not_before_fda_permission": "met",
                                        "treatment_summary_30_days": "met"})
    refusals_are_in_the_audit_trail_for_the_inspector(demo, at_least=6)


@pytest.mark.req("11.10(f)", "11.10(g)")
def test_demo_eu_case_released_over_the_api_and_notified_within_48_hours(demo_data, client):
    demo = DemoCaseOverApi(demo_data, client, "eu")
    now, physician = demo.now, demo.physician
    assert physician == "lukas.weber"
    assert demo.answer("manufacturer_is_not_mah", False, physician).status_code == 400  # QA answers it
    assert demo.answer("manufacturer_is_not_mah", False, QA).status_code == 200
    assert demo.item("mah_agreement")["applies"] is False
    request = demo.create("supply_request", {"treating_site": demo.case["treating_site"],
                                             "requested_at": iso(now - timedelta(hours=5))})
    wrong_people_are_refused_on_a_physician_record(demo, request)
    demo.sign_all(request)
    demo.sign_all(demo.create("physician_justification"))
    demo.sign_all(demo.create("informed_consent", {"consent_date": now.date().isoformat()}))
    acceptance = demo.create("physician_acceptance", {"physician_name": "Dr. med. Lukas Weber",
                                                      "received_at": iso(now - timedelta(hours=1))})
    demo.refused(acceptance, "physician_confirmation", physician, 409, "not due yet")
    demo.sign_all(acceptance)
    demo.sign_all(demo.create("deviation_report"))
    release_by_two_qa_people(demo, demo.create("qa_release"))

    administration = now + timedelta(hours=1)
    demo.record("administration", administration, physician)
    for authority, hours in (("ema", 20), ("national_competent_authority", 30)):
        demo.sign_all(demo.create("regulatory_notification", {
            "authority": authority, "jurisdiction": "EU", "notified_at": iso(administration + timedelta(hours=hours)),
            "what_notified": f"Supply of OOS batch {demo.case['lot']} to patient {demo.case['patient_ref']}."}))
    assert demo.answer("adverse_event", False, physician).status_code == 200
    assert_released_and_complete(demo, {"ema_notified": "met", "competent_authority_notified": "met",
                                        "mah_informed": "not_applicable"})
    refusals_are_in_the_audit_trail_for_the_inspector(demo, at_least=5)


@pytest.mark.req("11.10(f)", "11.10(g)")
def test_demo_jp_proposed_case_released_over_the_api(demo_data, client):
    demo = DemoCaseOverApi(demo_data, client, "jp_proposed")
    now, physician = demo.now, demo.physician
    assert demo.item("waivable_items_list")["satisfied"] and demo.item("oos_notification")["satisfied"]
    justification = demo.create("physician_justification")
    wrong_people_are_refused_on_a_physician_record(demo, justification)
    demo.sign_all(justification)
    request = demo.create("supply_request", {"treating_site": demo.case["treating_site"],
                                             "requested_at": iso(now - timedelta(hours=3))})
    error = demo.refused(request, "physician_request", physician, 409, "must be approved first")
    assert "Informed consent" in error["message"]
    demo.sign_all(demo.create("informed_consent", {"consent_date": now.date().isoformat()}))
    demo.sign_all(request)
    demo.sign_all(demo.create("ethics_approval", {
        "committee_name": "Kyoto University Hospital Ethics Committee", "committee_type": "institutional_ethics_committee",
        "submitted_at": iso(now - timedelta(days=1)), "decision_date": now.date().isoformat()}))
    demo.sign_all(demo.create("deviation_report"))
    release_by_two_qa_people(demo, demo.create("qa_release"))
    demo.record("administration", now + timedelta(hours=1), physician)
    assert demo.answer("adverse_event", False, physician).status_code == 200
    assert_released_and_complete(demo, {})
    refusals_are_in_the_audit_trail_for_the_inspector(demo, at_least=5)


def test_a_record_is_filed_in_its_case_over_the_api(demo_data, client):
    demo = DemoCaseOverApi(demo_data, client, "us")
    values = demo.values("deviation_report")
    created = demo.api[AUTHOR].post("/documents", json={"type": "deviation_report", "title": "Deviation, lot U2026-0311",
                                                        "values": values, "case_id": demo.case["id"]})
    assert created.status_code == 201 and created.json["case_id"] == demo.case["id"], created.json
    unknown = demo.api[AUTHOR].post("/documents", json={"type": "deviation_report", "title": "Deviation",
                                                        "values": values, "case_id": 999999})
    assert unknown.status_code in (400, 404)


def test_the_demo_cases_name_real_sites_whose_physicians_see_only_their_own_cases(demo_data, client):
    sites = {site["name"]: site for site in Api(client, QA, DEMO_PASSWORD).get("/sites").json["items"]}
    assert {(s["name"], s["timezone"], s["country"]) for s in sites.values()} >= {
        ("Osaka University Hospital", "Asia/Tokyo", "JP"), ("Charité – Universitätsmedizin Berlin", "Europe/Berlin", "DE"),
        ("MD Anderson Cancer Center, Houston", "America/Chicago", "US"),
        ("Memorial Sloan Kettering Cancer Center, New York", "America/New_York", "US")}
    assert [m["username"] for m in sites["Charité – Universitätsmedizin Berlin"]["members"]] == ["lukas.weber"]
    seen = {name: sorted(case["lot"] for case in Api(client, name, DEMO_PASSWORD).get("/cases").json["items"])
            for name in PHYSICIANS}
    assert seen == {"yuki.mori": ["J2026-0088", "L2026-0412"], "emily.chen": ["U2026-0311", "U2026-0344"],
                    "lukas.weber": ["E2026-0107"]}
    assert len(Api(client, QA, DEMO_PASSWORD).get("/cases").json["items"]) == len(DEMO_LOTS)
