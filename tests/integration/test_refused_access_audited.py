"""A signed-in person refused a page or an API route their roles do not open (403) leaves an audit entry:
who, which route, when, from where and why (21 CFR 11.10(e), 11.300(d): every failed attempt is recorded;
11.10(d), (g): the authority check that refused it). The entry is written in the request's one unit of work;
a person who floods refused requests leaves a few entries one by one and then one per window with the count,
so the counts add up to every refused request and the audit trail is not flooded."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from edms.audit.models import AuditEvent
from edms.documents.models import Document
from edms.timeutil import utc_now
from tests.conftest import bearer, csrf_token, sign_in
from tests.support.examples import VALUES

REFUSED = "access.refused"


def refusals(app) -> list[AuditEvent]:
    with app.extensions["edms"].sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == REFUSED).order_by(AuditEvent.seq)))


def changes(event: AuditEvent) -> dict:
    return {key: value["new"] for key, value in json.loads(event.changes).items()}


@pytest.fixture
def author(people):
    return people.make("kenji.sato", "author", printed_name="Kenji Sato")


@pytest.mark.req("11.10(e)")
@pytest.mark.req("11.300(d)")
@pytest.mark.req("11.10(g)")
def test_an_author_opening_the_account_administration_page_is_refused_and_the_refusal_is_audited(app, client, author):
    assert sign_in(client, "kenji.sato").status_code == 302
    before = utc_now()
    response = client.get("/admin/users?role=admin")
    assert response.status_code == 403
    [event] = refusals(app)
    assert (event.actor_id, event.actor_name) == (author.id, "Kenji Sato")  # who
    assert event.object_type == "route" and event.object_id == "GET /admin/users"  # what
    assert event.occurred_at >= before  # when
    assert event.client_addr == "127.0.0.1"  # from where
    assert event.reason == "requires the role admin"  # why
    assert changes(event) == {"method": "GET", "path": "/admin/users?role=admin", "endpoint": "admin.users",
                              "channel": "web", "roles": ["author"], "count": 1}


@pytest.mark.req("11.10(e)")
def test_a_refused_request_with_a_huge_query_string_is_audited_with_its_route_and_the_path_cut_at_512(
        app, client, author):
    assert sign_in(client, "kenji.sato").status_code == 302
    response = client.get("/admin/users?after=" + "9" * 2000)
    assert response.status_code == 403  # the role is checked before the parameters are read
    [event] = refusals(app)
    assert event.object_id == "GET /admin/users"
    assert changes(event)["path"] == ("/admin/users?after=" + "9" * 2000)[:512]


@pytest.mark.req("11.10(e)")
@pytest.mark.req("11.300(d)")
def test_an_authors_token_on_an_administrators_api_route_is_refused_and_audited(app, client, author):
    headers = bearer(client, "kenji.sato")
    response = client.get("/api/v1/users", headers=headers)
    assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"
    [event] = refusals(app)
    assert event.actor_id == author.id and event.object_id == "GET /api/v1/users"
    assert event.reason == "requires the role admin"
    assert changes(event)["channel"] == "api" and changes(event)["endpoint"] == "api.list_users"


@pytest.mark.req("11.10(e)")
@pytest.mark.req("11.10(d)")
def test_an_inspectors_write_is_refused_audited_and_changes_nothing_on_the_pages_and_the_api(app, client, people):
    inspector = people.make("sofia.lindqvist", "inspector", printed_name="Sofia Lindqvist (PMDA)")
    headers = bearer(client, "sofia.lindqvist")
    with app.extensions["edms"].sessions() as session:
        documents = session.scalar(select(func.count()).select_from(Document))
    api = client.post("/api/v1/documents", headers=headers, json={
        "type": "deviation_report", "title": "Low viability, lot L2026-0412", "values": VALUES["deviation_report"]})
    assert api.status_code == 403
    assert sign_in(client, "sofia.lindqvist").status_code == 302
    token = csrf_token(client.get("/").get_data(as_text=True))
    page = client.post("/documents/new", data={"csrf_token": token, "type": "deviation_report", "title": "x"})
    assert page.status_code == 403
    events = refusals(app)
    assert [(e.actor_id, e.reason, changes(e)["channel"]) for e in events] == [
        (inspector.id, "inspector accounts are read-only", "api"),
        (inspector.id, "inspector accounts are read-only", "web")]
    assert [e.object_id for e in events] == ["POST /api/v1/documents", "POST /documents/new"]
    with app.extensions["edms"].sessions() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == documents


@pytest.mark.req("11.10(e)")
def test_a_person_not_signed_in_is_sent_to_sign_in_and_no_refusal_is_recorded(app, client, author):
    assert client.get("/admin/users").status_code == 302
    assert client.get("/api/v1/users").status_code == 401  # audited as a refused credential instead
    assert refusals(app) == []


@pytest.mark.req("11.300(d)")
@pytest.mark.req("11.10(e)")
def test_a_flood_of_refused_requests_leaves_a_few_entries_then_one_per_window_whose_counts_add_up(
        app, client, author, people, monkeypatch):
    assert sign_in(client, "kenji.sato").status_code == 302
    statuses = {client.get(f"/admin/users?page={n}").status_code for n in range(60)}
    assert statuses == {403}
    one_by_one = refusals(app)
    assert len(one_by_one) == 10 and all(changes(e)["count"] == 1 for e in one_by_one)

    # The window closes: the next refusal (anyone's) writes the window's count, as the person who was refused.
    people.make("emi.nakamura", "qa", printed_name="Emi Nakamura")
    later = utc_now() + timedelta(minutes=2)
    monkeypatch.setattr("edms.application.refused_access.utc_now", lambda: later)
    other = app.test_client()
    assert sign_in(other, "emi.nakamura").status_code == 302
    assert other.get("/admin/users").status_code == 403
    events = refusals(app)
    summary = next(e for e in events if changes(e)["count"] > 1)
    assert (summary.actor_id, summary.client_addr) == (author.id, "127.0.0.1")
    assert "50 further requests refused from 127.0.0.1" in summary.reason
    assert sum(changes(e)["count"] for e in events if e.actor_id == author.id) == 60
    assert events[-1].actor_name == "Emi Nakamura" and changes(events[-1])["count"] == 1
