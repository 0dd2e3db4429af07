"""Signed-in page sessions have a record on the server (web_sessions), so that two app nodes behind a load
balancer agree on them: sign-out, the idle timeout and an administrator ending one session take effect
whichever node answers the next request, and CSRF tokens issued by one node are accepted by another."""
import json
from datetime import timedelta

import jsonschema_rs
import pytest
from sqlalchemy import select

from edms.app import create_app
from edms.audit.models import AuditEvent
from edms.db import transaction
from edms.users.models import WebSession
from edms.users.session_records import TOUCH_INTERVAL, session_hash
from tests.conftest import PASSWORD, bearer, csrf_token, sign_in

NEW_PASSWORD = "Another-Secret-2027!"


@pytest.fixture
def node_b(app):
    """A second app node: its own app instance (engine, services), the same database and secret key."""
    other = create_app(app.extensions["edms"].settings)
    other.config["TESTING"] = True
    yield other
    other.extensions["edms"].engine.dispose()


def _signed_in(app, username):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def _on(node, client):
    """The same browser (its cookie) answered by `node`."""
    other = node.test_client()
    other.set_cookie("edms_session", client.get_cookie("edms_session").value)
    return other


def _signed_out(response) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


def _records(app, username=None):
    with app.extensions["edms"].sessions() as session:
        rows = session.scalars(select(WebSession).order_by(WebSession.id)).all()
        return [row for row in rows if username is None or row.user.username == username]


def _events(app, action):
    with app.extensions["edms"].sessions() as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).all()


def _age(app, record_id, *, by: timedelta):
    with transaction(app.extensions["edms"].sessions) as session:
        row = session.get(WebSession, record_id)
        row.created_at -= by
        row.last_seen_at -= by


@pytest.mark.req("11.10(d)")
def test_signing_in_records_the_session_with_its_client_and_only_the_hash_of_its_id(app, people):
    people.make("kenji.sato", "author")
    client = app.test_client()
    sign_in(client, "kenji.sato")
    with client.session_transaction() as cookie:
        sid = cookie["sid"]
    [record] = _records(app, "kenji.sato")
    assert record.id_sha256 == session_hash(sid) and sid not in record.id_sha256
    assert record.open and record.end_reason is None
    assert record.client_addr == "127.0.0.1" and record.user_agent.startswith("Werkzeug")
    assert record.created_at.tzinfo is not None and record.last_seen_at == record.created_at


@pytest.mark.req("11.10(d)")
def test_signing_out_on_one_node_ends_the_session_on_the_other(app, node_b, people):
    people.make("kenji.sato", "author")
    client = _signed_in(app, "kenji.sato")
    assert _on(node_b, client).get("/documents/").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/").get_data(as_text=True))})
    assert _signed_out(_on(node_b, client).get("/documents/"))
    [record] = _records(app, "kenji.sato")
    assert record.end_reason == "signed_out" and record.ended_at is not None
    assert len(_events(app, "auth.signed_out")) == 1


@pytest.mark.req("11.10(d)")
def test_a_csrf_token_issued_by_one_node_is_accepted_by_the_other(app, node_b, people):
    people.make("kenji.sato", "author")
    browser = app.test_client()
    token = csrf_token(browser.get("/login").get_data(as_text=True))
    other = _on(node_b, browser)
    response = other.post("/login", data={"username": "kenji.sato", "password": PASSWORD,
                                          "csrf_token": token})
    assert response.status_code in (200, 302)  # not 400: the token verified on the other node
    signed = _signed_in(app, "kenji.sato")
    page_token = csrf_token(signed.get("/").get_data(as_text=True))
    assert _on(node_b, signed).post("/logout", data={"csrf_token": page_token}).status_code == 302


@pytest.mark.req("11.10(d)")
def test_an_idle_session_times_out_on_whichever_node_answers_next(app, node_b, people):
    people.make("kenji.sato", "author")
    client = _signed_in(app, "kenji.sato")
    [record] = _records(app, "kenji.sato")
    # The server's record says idle for 16 minutes (the cookie's own clock is not consulted here).
    _age(app, record.id, by=timedelta(minutes=16) + TOUCH_INTERVAL)
    assert _signed_out(_on(node_b, client).get("/documents/"))
    [record] = _records(app, "kenji.sato")
    assert record.end_reason == "idle"
    assert len(_events(app, "auth.session_timeout")) == 1
    assert _signed_out(_on(app, client).get("/documents/"))


def test_reading_pages_writes_last_seen_at_most_once_a_minute(app, node_b, people):
    people.make("kenji.sato", "author")
    client = _signed_in(app, "kenji.sato")
    [before] = _records(app, "kenji.sato")
    for _ in range(3):
        assert _on(node_b, client).get("/documents/").status_code == 200
    [after] = _records(app, "kenji.sato")
    assert after.last_seen_at == before.last_seen_at
    _age(app, before.id, by=TOUCH_INTERVAL * 2)
    assert client.get("/documents/").status_code == 200
    [moved] = _records(app, "kenji.sato")
    assert moved.last_seen_at > before.last_seen_at - TOUCH_INTERVAL
    assert moved.open


@pytest.mark.req("11.10(d)")
def test_changing_ones_password_keeps_this_session_and_ends_the_others(app, people):
    people.make("kenji.sato", "author")
    here, elsewhere = _signed_in(app, "kenji.sato"), _signed_in(app, "kenji.sato")
    token = csrf_token(here.get("/account/password").get_data(as_text=True))
    response = here.post("/account/password", data={
        "csrf_token": token, "current_password": PASSWORD, "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD})
    assert response.status_code == 302
    assert here.get("/documents/").status_code == 200
    assert _signed_out(elsewhere.get("/documents/"))
    first, second = _records(app, "kenji.sato")
    assert first.open and second.end_reason == "account_changed"


@pytest.mark.req("11.10(d)", "A11-12")
def test_an_administrator_ends_one_session_with_a_reason_and_it_ends_on_every_node(app, node_b, people, admin):
    people.make("kenji.sato", "author")
    office, ward = _signed_in(app, "kenji.sato"), _signed_in(app, "kenji.sato")
    administrator = _signed_in(node_b, "daisuke.kato")
    page = administrator.get("/admin/sessions")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    office_record, ward_record = _records(app, "kenji.sato")
    assert f'id="web-session-{office_record.id}"' in html and "Kenji Sato" in html
    token = csrf_token(html)
    refused = administrator.post(f"/admin/sessions/{ward_record.id}/end", data={"csrf_token": token, "reason": "  "})
    assert refused.status_code == 302 and _records(app, "kenji.sato")[1].open  # no reason: nothing changed
    administrator.post(f"/admin/sessions/{ward_record.id}/end",
                       data={"csrf_token": token, "reason": "Workstation left signed in on the ward"})
    assert _signed_out(_on(app, ward).get("/documents/"))
    assert office.get("/documents/").status_code == 200  # only that session ended
    [event] = _events(app, "auth.session_ended")
    assert event.reason == "Workstation left signed in on the ward"
    assert json.loads(event.changes)["web_session"] == {"new": ward_record.id, "old": None}
    assert event.actor_name == "Daisuke Kato"
    assert _records(app, "kenji.sato")[1].end_reason == "ended_by_admin"


@pytest.mark.req("11.10(d)")
def test_only_administrators_see_the_active_sessions(app, people):
    people.make("kenji.sato", "author")
    client = _signed_in(app, "kenji.sato")
    assert client.get("/admin/sessions").status_code == 403
    [record] = _records(app, "kenji.sato")
    assert client.post(f"/admin/sessions/{record.id}/end",
                       data={"csrf_token": csrf_token(client.get("/").get_data(as_text=True)),
                             "reason": "mine"}).status_code == 403
    assert _records(app, "kenji.sato")[0].open


@pytest.mark.req("11.10(d)", "A11-12")
def test_the_api_lists_active_sessions_and_ends_one_with_a_reason(app, client, people, admin):
    people.make("kenji.sato", "author")
    browser = _signed_in(app, "kenji.sato")
    headers = bearer(client, "daisuke.kato")
    assert client.get("/api/v1/sessions", headers=bearer(client, "kenji.sato")).status_code == 403
    listed = client.get("/api/v1/sessions", headers=headers).json["items"]
    [mine] = [row for row in listed if row["username"] == "kenji.sato"]
    assert mine["end_reason"] is None and mine["printed_name"] == "Kenji Sato" and mine["client_addr"] == "127.0.0.1"
    assert client.post(f"/api/v1/sessions/{mine['id']}/end", json={}, headers=headers).status_code == 400
    assert client.post("/api/v1/sessions/999999/end", json={"reason": "x"}, headers=headers).status_code == 404
    ended = client.post(f"/api/v1/sessions/{mine['id']}/end", json={"reason": "Reported stolen laptop"},
                        headers=headers)
    assert ended.status_code == 200 and ended.json["end_reason"] == "ended_by_admin"
    spec = client.get("/api/v1/openapi.json").get_json()["paths"]
    for answer, schema in ((listed and {"items": listed}, spec["/sessions"]["get"]),
                           (ended.json, spec["/sessions/{session_id}/end"]["post"])):
        published = schema["responses"]["200"]["content"]["application/json"]["schema"]
        assert not list(jsonschema_rs.validator_for(published).iter_errors(answer))
    assert client.post(f"/api/v1/sessions/{mine['id']}/end", json={"reason": "again"},
                       headers=headers).status_code == 409
    assert _signed_out(browser.get("/documents/"))
    assert [row["id"] for row in client.get("/api/v1/sessions", headers=headers).json["items"]
            if row["username"] == "kenji.sato"] == []
    assert len(_events(app, "auth.session_ended")) == 1


@pytest.mark.req("11.10(d)")
def test_signing_in_again_in_a_browser_whose_session_is_still_open_ends_that_session_as_replaced(app, people):
    people.make("kenji.sato", "author")
    people.make("emi.nakamura", "qa")
    client = _signed_in(app, "kenji.sato")
    with client.session_transaction() as cookie:
        cookie.pop("_user_id")  # the browser no longer counts as signed in, but still holds the session's id
    assert _signed_out(client.get("/documents/"))
    assert sign_in(client, "emi.nakamura").status_code == 302
    [old] = _records(app, "kenji.sato")
    [new] = _records(app, "emi.nakamura")
    assert old.end_reason == "replaced" and new.open
    assert client.get("/documents/").status_code == 200


@pytest.mark.req("11.10(d)", "A11-12")
def test_deactivating_an_account_ends_its_session_records_as_account_changed(app, people, admin):
    from edms.application import accounts
    from edms.audit import AuditContext
    from edms.users.models import User

    person = people.make("kenji.sato", "author")
    client = _signed_in(app, "kenji.sato")
    services = app.extensions["edms"]
    with transaction(services.sessions) as session:
        accounts.deactivate(services, session, AuditContext(admin.id, "Daisuke Kato"), session.get(User, person.id),
                            "left the company")
    assert _signed_out(client.get("/documents/"))
    [record] = _records(app, "kenji.sato")
    assert record.end_reason == "account_changed"
