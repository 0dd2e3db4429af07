"""Physicians see and write only the cases of their own sites and the cases they are named on; QA,
regulatory, manufacturing, inspectors and administrators see every case (edms.workflow.visibility). Today's
trap, closed: a Berlin physician recording dates and creating records in an Osaka case."""
import io
import zipfile
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from edms.cases import models as cm
from edms.cases.errors import CaseOutOfScope
from edms.db import transaction
from edms.sites import operations as site_ops
from edms.users.models import User
from tests.conftest import bearer, csrf_token, sign_in
from tests.support.documents import Api
from tests.support.inspection import api_exported_package
from tests.support.people import acting
from tests.support.signed_case import SIGNERS, VERIFIER


def _user(session, username: str) -> User:
    return session.scalar(select(User).where(User.username == username))


def _berlin_physician(app, people) -> None:
    """Dr Weber, a physician of Charité Berlin (his site's only member)."""
    people.make("lukas.weber", "physician", printed_name="Dr. med. Lukas Weber", timezone="Europe/Berlin")
    with transaction(app.extensions["edms"].sessions) as session:
        admin, weber = _user(session, VERIFIER[0]), _user(session, "lukas.weber")
        site = site_ops.create_site(session, acting(admin), admin, "Charité – Universitätsmedizin Berlin",
                                    "Europe/Berlin", "DE")
        site_ops.add_member(session, acting(admin), admin, site, weber, "Consultant haematologist at the site")


def _join_case_site(app, username: str, case_id: int) -> None:
    with transaction(app.extensions["edms"].sessions) as session:
        admin, person = _user(session, VERIFIER[0]), _user(session, username)
        site = session.get(cm.Case, case_id).site
        site_ops.add_member(session, acting(admin), admin, site, person, "Treats patients at this site")


@pytest.mark.req("11.10(d)")
@pytest.mark.req("11.10(g)")
def test_a_berlin_physician_can_neither_record_a_date_nor_create_a_record_in_an_osaka_case(app, client, people,
                                                                                          signed_case):
    _berlin_physician(app, people)
    case_id = signed_case.case_id
    sign_in(client, "lukas.weber")
    token = csrf_token(client.get("/cases/").get_data(as_text=True))
    assert client.get(f"/cases/{case_id}").status_code == 404
    date = client.post(f"/cases/{case_id}/dates", data={"csrf_token": token, "key": "administration_planned",
                                                        "value": "2026-12-01T10:00"})
    assert date.status_code == 404
    record = client.post("/documents/new/physician_justification", data={"csrf_token": token, "case": str(case_id),
                                                                         "title": "Justification"})
    assert record.status_code == 404
    headers = bearer(client, "lukas.weber")
    assert client.get(f"/api/v1/cases/{case_id}", headers=headers).status_code == 404
    assert client.post(f"/api/v1/cases/{case_id}/dates", headers=headers, json={
        "key": "administration_planned", "value": "2026-12-01T10:00:00+01:00"}).status_code == 404
    created = client.post("/api/v1/documents", headers=headers, json={
        "type": "physician_justification", "title": "Justification", "values": {}, "case_id": case_id})
    assert created.status_code == 400 and "case_id" in created.json["error"]["details"]
    with app.extensions["edms"].sessions() as session:
        case = session.get(cm.Case, case_id)
        assert "administration_planned" not in case.current_dates()


def test_the_use_cases_refuse_a_case_out_of_the_physicians_scope_whoever_calls_them(app, people, signed_case):
    from edms.application import cases, drafting

    _berlin_physician(app, people)
    services = app.extensions["edms"]
    with transaction(services.sessions) as session:
        weber = _user(session, "lukas.weber")
        case = session.get(cm.Case, signed_case.case_id)
        with pytest.raises(CaseOutOfScope):
            cases.record_date(services, session, acting(weber), weber, case, "administration_planned",
                              datetime(2026, 12, 1, 9, tzinfo=UTC), None)
        with pytest.raises(CaseOutOfScope):
            drafting.create_document(services, session, acting(weber), weber, "physician_justification",
                                     title="Justification", raw_values={}, case_id=case.id)


@pytest.mark.req("11.10(d)")
def test_a_physician_sees_the_cases_of_their_sites_and_the_ones_they_are_named_on_and_qa_sees_all(
        app, client, people, signed_case):
    case_id = signed_case.case_id
    named, other = SIGNERS["physician"][0][0], SIGNERS["physician"][1][0]

    def listed(username: str) -> tuple[list[int], list[int]]:
        headers = bearer(client, username)
        api = [item["id"] for item in client.get("/api/v1/cases", headers=headers).json["items"]]
        sign_in(client, username)
        page = client.get("/cases/").get_data(as_text=True)
        client.post("/logout", data={"csrf_token": csrf_token(page)})
        return api, [case_id] if f'href="/cases/{case_id}"' in page else []

    assert listed(named) == ([case_id], [case_id])  # named on the case
    assert listed(other) == ([], [])  # neither named nor of the site
    assert listed(SIGNERS["qa"][0][0]) == ([case_id], [case_id])
    _join_case_site(app, other, case_id)
    assert listed(other) == ([case_id], [case_id])  # a member of the case's site


def test_the_named_physician_has_the_cases_work_in_their_inbox_and_a_physician_of_another_site_none(
        app, people, signed_case):
    from edms.application.tasks import tasks_for

    services = app.extensions["edms"]
    named, other = SIGNERS["physician"][0][0], SIGNERS["physician"][1][0]

    def case_tasks(username: str) -> list:
        with services.sessions() as session:
            return [task.type_key for task in tasks_for(session, _user(session, username),
                                                        document_types=services.document_types,
                                                        regimes=services.regimes, now=datetime.now(UTC))
                    if task.case_id == signed_case.case_id]

    assert case_tasks(named), "the named physician has work in the case"
    assert case_tasks(other) == []


@pytest.mark.req("11.50(a)")
@pytest.mark.req("ERES-legibility")
def test_a_records_times_read_in_its_sites_zone_on_its_page_and_in_its_renditions_whoever_downloads_it(
        app, client, people, signed_case):
    from edms.application import renditions
    from edms.documents import models as dm
    from edms.documents.renditions import render_docx

    services = app.extensions["edms"]
    people.make("john.carter", "inspector", printed_name="John Carter", timezone="America/New_York")
    with services.sessions() as session:
        document = session.get(dm.Document, signed_case.documents[0])
        made = renditions.rendition(services, session, document, document.latest, language="en",
                                    display_tz="America/New_York")
        assert made.display_tz == "Asia/Tokyo"  # the case's site, not the reader's zone
        with zipfile.ZipFile(io.BytesIO(render_docx(made))) as docx:
            text = docx.read("word/document.xml").decode("utf-8")
        assert "JST (UTC+09:00)" in text and "EST" not in text
    sign_in(client, "john.carter")
    page = client.get(f"/documents/{signed_case.documents[0]}").get_data(as_text=True)
    assert "JST (UTC+09:00) (your time: " in page and "EST (UTC-05:00)" in page
    pdf = client.get(f"/documents/{signed_case.documents[0]}/versions/1/rendition.pdf")
    assert pdf.status_code == 200


@pytest.mark.req("11.10(d)")
def test_search_and_the_audit_viewer_are_closed_to_physicians_and_search_keeps_to_the_readers_cases(
        app, client, people, signed_case):
    from edms.inspection.search import parse_query, search

    _berlin_physician(app, people)
    headers = bearer(client, "lukas.weber")
    for path in ("/api/v1/search?number=OOS", "/api/v1/audit", f"/api/v1/cases/{signed_case.case_id}/timeline"):
        assert client.get(path, headers=headers).status_code in (403, 404), path
    sign_in(client, "lukas.weber")
    for path in ("/inspection/search?number=OOS", "/audit", f"/inspection/cases/{signed_case.case_id}"):
        assert client.get(path).status_code in (403, 404), path
    with app.extensions["edms"].sessions() as session:
        query = parse_query({"case": str(signed_case.case_id)}, "UTC")
        everyone = search(session, query, reader=_user(session, SIGNERS["qa"][0][0])).hits
        assert len(everyone) == len(signed_case.documents)
        assert search(session, query, reader=_user(session, "lukas.weber")).hits == []
        assert len(search(session, query, reader=_user(session, SIGNERS["physician"][0][0])).hits) == len(everyone)


@pytest.mark.req("11.10(b)")
@pytest.mark.req("ERES-legibility")
def test_an_inspection_package_reads_in_the_cases_site_zone_whoever_exports_it(app, client, people, signed_case,
                                                                              organisation_pki):
    import json

    people.make("john.carter", "inspector", printed_name="John Carter", timezone="America/New_York")
    response = api_exported_package(Api(client, "john.carter"), f"/documents/{signed_case.documents[0]}/export")
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        report = archive.read("report.html").decode("utf-8")
    assert manifest["display_timezone"] == "Asia/Tokyo"
    assert "JST (UTC+09:00)" in report and "EST (UTC-05:00)" not in report
