"""Inspectors read everything and change nothing; every page and file they open is in the audit trail.

The write routes are generated from the application's own URL map, so a route added later is covered
without touching this file (21 CFR 11.10(d), 11.10(g); ER/ES authenticity).
"""
from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from werkzeug.routing import IntegerConverter, Rule

from edms.api.blueprint import SAFE_METHODS
from edms.signatures.models import Signature
from edms.timeutil import utc_now
from edms.users.models import User
from edms.web.guards import READ_ONLY_ALLOWED_WRITES
from tests.conftest import csrf_token, sign_in
from tests.support.documents import Api
from tests.support.inspection import INSPECTOR, events, inspector, inspector_client, row_counts  # noqa: F401

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Writes that concern only the inspector's own session or credentials, never a record: sign in and out,
# language, their own password, and over the API obtaining and revoking their own bearer token.
OWN_SESSION_WRITES = READ_ONLY_ALLOWED_WRITES | {"api.token", "api.revoke"}


def rows_but_refusals(app) -> dict[str, int]:
    """Every table's row count, the audit trail's without the refused requests it records by design (403s:
    edms.web.refusals), which change nothing else."""
    counts = row_counts(app)
    counts["audit_event"] -= len(events(app, "access.refused"))
    return counts


def write_routes(app) -> list[tuple[Rule, str]]:
    return sorted(((rule, method) for rule in app.url_map.iter_rules() for method in rule.methods & WRITE_METHODS
                   if rule.endpoint not in OWN_SESSION_WRITES), key=lambda item: (item[0].rule, item[1]))


def url_for_rule(rule: Rule, values: dict[str, object]) -> str:
    """The rule's URL with a real record's id for every argument (a refusal must not be a 404)."""
    arguments = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        kind = type(converter).__name__
        if kind == "AnyConverter":
            arguments[name] = converter.items[0]
        elif kind == "UUIDConverter":
            arguments[name] = values["uuid"]
        elif isinstance(converter, IntegerConverter):  # edms's bounded ids are one
            arguments[name] = values.get(name, values["document_id"])
        else:
            arguments[name] = "x"
    return rule.build(arguments)[1]


def sample_values(app, signed_case, inspector) -> dict[str, object]:
    with app.extensions["edms"].sessions() as session:
        signature = session.scalar(select(Signature).where(Signature.document_id == signed_case.documents[0]))
        author = session.scalar(select(User.id).where(User.username == "kenji.sato"))
    return {"document_id": signed_case.documents[0], "case_id": signed_case.case_id, "number": 1,
            "user_id": author, "attachment_id": 1, "uuid": uuid.UUID(signature.signature_id)}


@pytest.mark.req("11.10(g)")
@pytest.mark.req("11.10(d)")
def test_every_write_route_refuses_a_signed_in_inspector_and_nothing_changes(app, signed_case, inspector_client,
                                                                             inspector):
    routes = write_routes(app)
    assert len(routes) > 20, "the URL map lists the application's write routes"
    values = sample_values(app, signed_case, inspector)
    token = csrf_token(inspector_client.get("/inspection/search").get_data(as_text=True))
    before = rows_but_refusals(app)
    refused = {}
    for rule, method in routes:
        url = url_for_rule(rule, values)
        response = inspector_client.open(url, method=method, data={"csrf_token": token, "reason": "inspector attempt"},
                                         headers={"X-CSRFToken": token})
        refused[f"{method} {rule.rule}"] = response.status_code
    assert {route: status for route, status in refused.items() if status != 403} == {}
    assert rows_but_refusals(app) == before
    assert events(app, "access.refused", actor_id=inspector.id), "the refusals are in the audit trail"


@pytest.mark.req("11.10(g)")
@pytest.mark.req("11.10(d)")
def test_every_api_write_route_refuses_an_inspector_bearer_token_and_nothing_changes(app, client, signed_case, inspector):
    api = Api(client, INSPECTOR[0])
    routes = [(rule, method) for rule, method in write_routes(app) if rule.rule.startswith("/api/")]
    assert routes, "the API has write routes"
    values = sample_values(app, signed_case, inspector)
    before = rows_but_refusals(app)
    refused = {}
    for rule, method in routes:
        response = client.open(url_for_rule(rule, values), method=method, headers=api.headers,
                               json={"username": INSPECTOR[0], "password": "x", "reason": "inspector attempt"})
        refused[f"{method} {rule.rule}"] = (response.status_code, (response.json or {}).get("error", {}).get("code"))
    assert {route: got for route, got in refused.items() if got != (403, "forbidden")} == {}
    assert rows_but_refusals(app) == before
    assert events(app, "access.refused", actor_id=inspector.id), "the refusals are in the audit trail"


def test_the_exempt_writes_only_touch_the_inspectors_own_session(app):
    """The only writes an inspector may make are signing in and out, language, own password and own token."""
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.methods & WRITE_METHODS}
    assert OWN_SESSION_WRITES <= endpoints | {"auth.login"}
    assert {"api.token", "api.revoke"} <= endpoints
    assert SAFE_METHODS == {"GET", "HEAD", "OPTIONS"}


@pytest.mark.req("11.10(e)")
@pytest.mark.req("A11-12")
def test_every_page_and_file_an_inspector_opens_is_recorded(app, signed_case, inspector_client):
    document_id = signed_case.documents[0]
    pages = ["/inspection/search?lot=L2026-0412", f"/inspection/cases/{signed_case.case_id}",
             f"/inspection/documents/{document_id}", f"/documents/{document_id}/versions/2", "/audit"]
    for path in pages:
        assert inspector_client.get(path).status_code == 200, path
    pdf = inspector_client.get(f"/documents/{document_id}/versions/2/rendition.pdf")
    assert pdf.status_code == 200
    viewed = events(app, "inspection.viewed", actor_name=INSPECTOR[1])
    paths = [json.loads(event.changes)["path"]["new"] for event in viewed]
    assert paths == pages
    version_view = viewed[3]
    assert (version_view.object_type, version_view.object_id, version_view.document_version) == \
        ("document", str(document_id), 2)
    assert version_view.case_id == str(signed_case.case_id)
    assert viewed[1].object_type == "case" and viewed[4].object_id == "audit.events"
    (download,) = events(app, "inspection.downloaded", actor_name=INSPECTOR[1])
    recorded = json.loads(download.changes)["file"]["new"]
    assert recorded["sha256"] == hashlib.sha256(pdf.data).hexdigest() and recorded["size"] == len(pdf.data)
    assert recorded["name"].endswith("-v2.pdf") and download.document_version == 2


@pytest.mark.req("11.10(e)")
def test_api_reads_by_an_inspector_are_recorded_too(app, client, signed_case, inspector):
    api = Api(client, INSPECTOR[0])
    assert api.get(f"/documents/{signed_case.documents[0]}/timeline").status_code == 200
    (viewed,) = events(app, "inspection.viewed", actor_name=INSPECTOR[1])
    assert viewed.object_type == "document" and viewed.object_id == str(signed_case.documents[0])


def test_reads_by_other_roles_are_not_access_records(app, client, signed_case):
    sign_in(client, "emi.nakamura")
    assert client.get(f"/inspection/documents/{signed_case.documents[0]}").status_code == 200
    assert events(app, "inspection.viewed") == []


@pytest.mark.req("11.10(d)")
@pytest.mark.req("A11-12")
def test_a_live_inspector_session_ends_when_the_access_period_ends(app, inspector_client, inspector):
    assert inspector_client.get("/inspection/search").status_code == 200
    with app.extensions["edms"].sessions() as session:
        session.execute(update(User).where(User.id == inspector.id).values(access_expires_at=utc_now() - timedelta(seconds=1)))
        session.commit()
    response = inspector_client.get("/inspection/search")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    (ended,) = events(app, "auth.access_expired", object_id=str(inspector.id))
    assert ended.actor_id == inspector.id
    again = inspector_client.get("/inspection/search")
    assert again.status_code == 302 and "/login" in again.headers["Location"]
    refused = sign_in(inspector_client, INSPECTOR[0])
    assert refused.status_code == 200 and "access period has ended" in refused.get_data(as_text=True)


@pytest.mark.req("11.10(d)")
def test_an_expired_inspector_bearer_token_is_refused(app, client, inspector):
    api = Api(client, INSPECTOR[0])
    with app.extensions["edms"].sessions() as session:
        session.execute(update(User).where(User.id == inspector.id).values(access_expires_at=utc_now() - timedelta(seconds=1)))
        session.commit()
    assert api.get("/search?lot=L2026-0412").status_code == 401


@pytest.mark.req("11.10(g)")
def test_inspection_pages_are_for_inspectors_qa_and_regulatory_only(app, client, people, signed_case):
    people.make("yui.hayashi", "admin", printed_name="Yui Hayashi")
    sign_in(client, "yui.hayashi")
    assert client.get("/inspection/search").status_code == 403
    token = csrf_token(client.get("/").get_data(as_text=True))
    assert client.post(f"/inspection/cases/{signed_case.case_id}/export", data={"csrf_token": token}).status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/").get_data(as_text=True))})
    sign_in(client, "kenji.sato")
    assert client.get("/inspection/search").status_code == 403


def test_the_inspection_menu_offers_regulatory_affairs_no_audit_page_it_may_not_open(app, client, people, signed_case):
    people.make("rina.ogawa", "regulatory", printed_name="Rina Ogawa")
    sign_in(client, "rina.ogawa")
    page = client.get("/inspection/search")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="subnav-search"' in html
    assert 'href="/audit' not in html
    assert client.get("/audit").status_code == 403  # the links left out lead nowhere it may go
    assert client.get("/audit/verify").status_code == 403
