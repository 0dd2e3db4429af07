"""Sign-in throttling per account and per client (issue #12; 21 CFR 11.300(d), 11.10(d)).

Failed sign-ins count under the user name tried and under the client address. A hospital's proxy shows one
address for everyone behind it: many failed sign-ins under one name from there throttle that name only, never
the other people behind the same address; guessing many names from one address meets the client's own limit.
The throttled page is a normal page in the person's language; the API answers 429 in JSON. Every throttled
attempt is audited (auth.refused, its password never checked), in counted windows per user name and client so
that a flood cannot fill the audit trail: the first few one by one, then one event with the count."""
from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from edms.audit.models import AuditEvent
from edms.timeutil import utc_now
from tests.conftest import PASSWORD, csrf_token

ACCOUNT_LIMIT = 3
CLIENT_LIMIT = 8


@pytest.fixture
def proxy_app(settings):
    """The app behind a hospital proxy: every request arrives from the same address."""
    from edms.app import create_app

    app = create_app(dataclasses.replace(settings, login_rate_limit=f"{ACCOUNT_LIMIT} per minute",
                                         login_client_rate_limit=f"{CLIENT_LIMIT} per minute"))
    yield app
    app.extensions["edms"].engine.dispose()


def _attempt(client, username: str, password: str, *, language: str = "en"):
    headers = {"Accept-Language": language}
    page = client.get("/login", headers=headers).get_data(as_text=True)
    return client.post("/login", data={"csrf_token": csrf_token(page), "username": username, "password": password},
                       headers=headers)


def _events(app, action: str) -> list[AuditEvent]:
    with app.extensions["edms"].sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def _count(event: AuditEvent) -> int:
    return json.loads(event.changes or "{}")["count"]["new"]


def _name(event: AuditEvent) -> str | None:
    return json.loads(event.changes or "{}")["username"]["new"]


def _people(app):
    from tests.support.people import People

    services = app.extensions["edms"]
    return People(services.settings, services.sessions)


@pytest.mark.req("11.300(d)")
def test_many_failures_under_one_name_behind_a_proxy_never_block_the_others_behind_it(proxy_app):
    people = _people(proxy_app)
    people.make("haruto.ito", "physician", printed_name="Dr Haruto Ito")
    people.make("mei.suzuki", "physician", printed_name="Dr Mei Suzuki")
    nurse_station = proxy_app.test_client()
    codes = [_attempt(nurse_station, "haruto.ito", "Wrong-Password-0000").status_code for _ in range(ACCOUNT_LIMIT + 20)]
    assert codes[:ACCOUNT_LIMIT] == [200] * ACCOUNT_LIMIT and set(codes[ACCOUNT_LIMIT:]) == {429}
    # Another person at the next desk, behind the same proxy address, signs in at once.
    colleague = proxy_app.test_client()
    assert _attempt(colleague, "mei.suzuki", PASSWORD).status_code == 302
    # And the throttled name stays throttled even with the right password, until its window has passed.
    assert _attempt(proxy_app.test_client(), "haruto.ito", PASSWORD).status_code == 429


@pytest.mark.req("11.300(d)")
def test_guessing_many_names_from_one_client_meets_the_clients_own_limit(proxy_app):
    _people(proxy_app).make("mei.suzuki", "physician", printed_name="Dr Mei Suzuki")
    client = proxy_app.test_client()
    codes = [_attempt(client, f"guess.{n:02d}", "Wrong-Password-0000").status_code for n in range(CLIENT_LIMIT + 2)]
    assert codes[:CLIENT_LIMIT] == [200] * CLIENT_LIMIT and set(codes[CLIENT_LIMIT:]) == {429}
    assert _attempt(client, "mei.suzuki", PASSWORD).status_code == 429


def test_the_throttled_page_is_the_sign_in_page_with_an_explanation_in_the_persons_language(proxy_app):
    client = proxy_app.test_client()
    for _ in range(ACCOUNT_LIMIT):
        _attempt(client, "x.y", "Wrong-Password-0000")
    response = _attempt(client, "x.y", "Wrong-Password-0000")
    english = response.get_data(as_text=True)
    assert response.status_code == 429 and 'id="throttled"' in english and 'id="login-form"' in english
    assert "Too many failed sign-ins" in english and "per 1 minute" not in english
    japanese = _attempt(client, "x.y", "Wrong-Password-0000", language="ja").get_data(as_text=True)
    assert "サインインの失敗が多すぎます" in japanese and "Too many" not in japanese


@pytest.mark.req("11.300(d)")
def test_the_api_token_endpoint_shares_the_counts_and_answers_429_in_json(proxy_app):
    _people(proxy_app).make("mei.suzuki", "physician", printed_name="Dr Mei Suzuki")
    client = proxy_app.test_client()
    codes = [client.post("/api/v1/auth/token", json={"username": "mei.suzuki", "password": "Wrong-Password-0000"})
             for _ in range(ACCOUNT_LIMIT + 1)]
    assert [r.status_code for r in codes] == [401] * ACCOUNT_LIMIT + [429]
    assert codes[-1].json["error"]["code"] == "too_many_attempts"
    # The page counts the same name: it is throttled there too.
    assert _attempt(client, "mei.suzuki", PASSWORD).status_code == 429


def test_a_limit_or_a_limiter_store_the_limiter_cannot_use_is_refused_at_start_up(tmp_path):
    from edms.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="login_client_rate_limit"):
        load_settings("testing", overrides={"data_dir": str(tmp_path), "login_client_rate_limit": "lots"})
    with pytest.raises(ConfigError, match="rate_limit_storage"):
        load_settings("testing", overrides={"data_dir": str(tmp_path), "rate_limit_storage": "carrier-pigeon://loft"})
    assert load_settings("testing", overrides={"data_dir": str(tmp_path)}).rate_limit_storage == "memory://"


@pytest.mark.req("11.300(d)")
def test_a_throttled_sign_in_is_audited_with_the_name_as_typed_and_the_client_and_its_password_is_never_checked(
        proxy_app):
    people = _people(proxy_app)
    people.make("haruto.ito", "physician", printed_name="Dr Haruto Ito")
    client = proxy_app.test_client()
    for _ in range(ACCOUNT_LIMIT):
        _attempt(client, "haruto.ito", "Wrong-Password-0000")
    assert _events(proxy_app, "auth.refused") == []
    # The right password, under the name typed differently: refused by the throttle before any check.
    assert _attempt(client, " Haruto.ITO", PASSWORD).status_code == 429
    assert client.post("/api/v1/auth/token", json={"username": "haruto.ito", "password": PASSWORD}).status_code == 429
    page, api = _events(proxy_app, "auth.refused")
    assert _name(page) == " Haruto.ITO" and _count(page) == 1 and page.client_addr == "127.0.0.1"
    assert "throttled" in (page.reason or "") and "(web, from 127.0.0.1)" in (page.reason or "")
    assert "password not checked" in (page.reason or "")
    assert _name(api) == "haruto.ito" and "(api, from 127.0.0.1)" in (api.reason or "")
    # No password was checked: the failed sign-ins recorded are the three before the throttle, no more.
    assert len(_events(proxy_app, "auth.failed")) == ACCOUNT_LIMIT
    assert _events(proxy_app, "auth.signed_in") == []


@pytest.mark.req("11.300(d)")
def test_a_flood_of_two_hundred_throttled_sign_ins_leaves_a_few_audit_events_whose_counts_add_up(
        proxy_app, monkeypatch):
    people = _people(proxy_app)
    people.make("haruto.ito", "physician", printed_name="Dr Haruto Ito")
    people.make("mei.suzuki", "physician", printed_name="Dr Mei Suzuki")
    attacker = proxy_app.test_client()
    for _ in range(ACCOUNT_LIMIT):
        _attempt(attacker, "haruto.ito", "Wrong-Password-0000")
    codes = {_attempt(attacker, "haruto.ito", f"Guess-{n:04d}-Password").status_code for n in range(200)}
    assert codes == {429}
    assert [_count(event) for event in _events(proxy_app, "auth.refused")] == [1] * 5  # the first, one by one
    # The others behind the same proxy address still sign in.
    assert _attempt(proxy_app.test_client(), "mei.suzuki", PASSWORD).status_code == 302

    # The window closes: the next throttled sign-in writes the window's count.
    later = utc_now() + timedelta(minutes=2)
    monkeypatch.setattr("edms.application.access.utc_now", lambda: later)
    assert _attempt(attacker, "haruto.ito", "Guess-after-Password").status_code == 429
    events = _events(proxy_app, "auth.refused")
    assert len(events) <= 7 and sum(_count(event) for event in events) == 201
    summary = next(event for event in events if _count(event) > 1)
    assert _name(summary) == "haruto.ito" and summary.object_id is None
    assert "195 further sign-ins refused by the throttle under the user name 'haruto.ito' from 127.0.0.1" in (
        summary.reason or "")


@pytest.mark.req("11.300(d)")
def test_guessing_names_past_the_clients_limit_is_audited_in_one_window_for_the_client_whatever_the_names(
        proxy_app, monkeypatch):
    client = proxy_app.test_client()
    for n in range(CLIENT_LIMIT):
        _attempt(client, f"guess.{n:02d}", "Wrong-Password-0000")
    codes = {_attempt(client, f"other.{n:02d}", "Wrong-Password-0000").status_code for n in range(30)}
    assert codes == {429}
    events = _events(proxy_app, "auth.refused")
    assert [_name(event) for event in events] == [f"other.{n:02d}" for n in range(5)]
    assert all("from this client" in (event.reason or "") for event in events)

    later = utc_now() + timedelta(minutes=2)
    monkeypatch.setattr("edms.application.access.utc_now", lambda: later)
    _attempt(client, "other.last", "Wrong-Password-0000")
    events = _events(proxy_app, "auth.refused")
    assert sum(_count(event) for event in events) == 31
    summary = next(event for event in events if _count(event) > 1)
    assert _name(summary) is None and "under any user name from 127.0.0.1" in (summary.reason or "")
