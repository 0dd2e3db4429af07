"""Reading pages leaves the page session's cookie as it was: the cookie's `last_seen` (the idle time-out's clock) is
written again only once it is a minute old, and the CSRF token is signed once per session (edms.web.guards,
edms.web.csrf_tokens). The idle time-out allows the cookie's lag as it allows the server record's: a session ends
at its first request after the idle time plus that minute, never before the idle time (21 CFR 11.10(d))."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from edms.audit.models import AuditEvent
from edms.web.csrf_tokens import SIGNED
from edms.web.guards import cookie_slack
from tests.conftest import csrf_token, sign_in

COOKIE = "edms_session"
IDLE = 15 * 60  # the default idle_minutes, in seconds
SLACK = 60


def session_cookies(response) -> list[str]:
    return [value for value in response.headers.getlist("Set-Cookie") if value.startswith(f"{COOKIE}=")]


def timeouts(app) -> list[AuditEvent]:
    with app.extensions["edms"].sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.session_timeout")))


def signed_out(response) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.fixture
def reader(app, client, people):
    people.make("kenji.sato", "author")
    assert sign_in(client, "kenji.sato").status_code == 302
    assert client.get("/").status_code == 200  # the session's CSRF token made and kept
    return client


def test_the_cookies_clock_lags_by_at_most_a_minute_or_a_fifteenth_of_a_shorter_idle_time():
    assert cookie_slack(timedelta(minutes=15)) == timedelta(minutes=1)
    assert cookie_slack(timedelta(minutes=30)) == timedelta(minutes=1)
    assert cookie_slack(timedelta(minutes=3)) == timedelta(seconds=12)


def test_reading_pages_within_a_minute_sends_no_session_cookie(reader):
    for url in ("/", "/documents/", "/"):
        response = reader.get(url)
        assert response.status_code == 200 and session_cookies(response) == [], url


def test_the_cookies_last_seen_is_written_again_once_it_is_a_minute_old(reader):
    with reader.session_transaction() as cookie:
        cookie["last_seen"] = time.time() - SLACK - 5
        aged = cookie["last_seen"]
    response = reader.get("/")
    assert response.status_code == 200 and session_cookies(response)
    with reader.session_transaction() as cookie:
        assert cookie["last_seen"] > aged + SLACK
    assert session_cookies(reader.get("/")) == []


@pytest.mark.req("11.10(d)")
def test_a_session_whose_cookie_is_idle_within_the_minutes_slack_continues_and_its_clock_moves_on(app, reader):
    # The cookie's clock may lag the last request by up to a minute: idle time + 30 s on it is not yet idle.
    with reader.session_transaction() as cookie:
        cookie["last_seen"] = time.time() - IDLE - SLACK / 2
    response = reader.get("/")
    assert response.status_code == 200 and session_cookies(response)
    with reader.session_transaction() as cookie:
        assert cookie["last_seen"] > time.time() - SLACK
    assert timeouts(app) == []


@pytest.mark.req("11.10(d)")
def test_a_session_whose_cookie_is_idle_past_the_minutes_slack_ends(app, reader):
    with reader.session_transaction() as cookie:
        cookie["last_seen"] = time.time() - IDLE - SLACK - 5
    assert signed_out(reader.get("/"))
    assert len(timeouts(app)) == 1
    assert signed_out(reader.get("/"))


@pytest.mark.req("11.10(d)")
def test_every_page_of_a_session_prints_the_same_csrf_token_and_a_form_accepts_it(reader):
    first = csrf_token(reader.get("/").get_data(as_text=True))
    second = csrf_token(reader.get("/documents/").get_data(as_text=True))
    assert first == second
    response = reader.post("/logout", data={"csrf_token": first})
    assert signed_out(response)


@pytest.mark.req("11.10(d)")
def test_a_new_session_signs_a_new_token_and_the_old_sessions_token_is_refused(app, client, people):
    people.make("kenji.sato", "author")
    sign_in(client, "kenji.sato")
    old = csrf_token(client.get("/").get_data(as_text=True))
    client.post("/logout", data={"csrf_token": old})
    sign_in(client, "kenji.sato")
    new = csrf_token(client.get("/").get_data(as_text=True))
    assert new != old
    refused = client.post("/language", data={"csrf_token": old, "language": "ja"})
    assert refused.status_code == 400
    assert "ようこそ" not in client.get("/").get_data(as_text=True)
    other = app.test_client()
    people.make("emi.nakamura", "author")
    sign_in(other, "emi.nakamura")
    assert other.post("/language", data={"csrf_token": new, "language": "ja"}).status_code == 400


def test_a_session_from_before_tokens_were_kept_gets_its_token_kept_once(reader):
    with reader.session_transaction() as cookie:
        cookie.pop(SIGNED)  # as a cookie made by the previous code carries it
    first = reader.get("/")
    assert session_cookies(first)
    with reader.session_transaction() as cookie:
        kept = cookie[SIGNED]
        assert kept[0] == cookie["csrf_token"] and kept[1] == csrf_token(first.get_data(as_text=True))
    again = reader.get("/")
    assert session_cookies(again) == [] and csrf_token(again.get_data(as_text=True)) == kept[1]


def test_a_kept_token_that_was_signed_for_another_value_is_not_printed(reader):
    with reader.session_transaction() as cookie:
        cookie[SIGNED] = ["0" * 40, "forged.token.value"]
    page = reader.get("/")
    token = csrf_token(page.get_data(as_text=True))
    assert token != "forged.token.value"
    with reader.session_transaction() as cookie:
        assert cookie[SIGNED] == [cookie["csrf_token"], token]
    assert reader.post("/logout", data={"csrf_token": token}).status_code == 302
