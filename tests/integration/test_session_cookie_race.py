"""An answer that changes nothing in the page session sends no session cookie, so the answer to an older request
of the same browser (a favicon, a static file, a 404) arriving late cannot replace a cookie a form has just
changed: the language picked before sign-in holds for the next page (the cause of the rare English page after
choosing Japanese in tests/browser/test_auth_browser.py::test_language_switch_to_japanese)."""
from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, csrf_token

COOKIE = "edms_session"


def session_cookies(response) -> list[str]:
    return [value for value in response.headers.getlist("Set-Cookie") if value.startswith(f"{COOKIE}=")]


@pytest.mark.req("ERES-legibility")
def test_a_late_answer_to_an_older_request_does_not_undo_the_language_just_picked(app, client, people):
    people.make("kenji.sato", "author", printed_name="Kenji Sato")
    page = client.get("/login")
    before_the_pick = client.get_cookie(COOKIE).value
    late = app.test_client()  # the same browser's requests sent before the pick, answered after it
    late.set_cookie(COOKIE, before_the_pick)

    picked = client.post("/language", data={"csrf_token": csrf_token(page.get_data(as_text=True)), "language": "ja"},
                         headers={"Referer": "http://localhost/login"})
    assert picked.status_code == 302 and session_cookies(picked)
    for url in ("/favicon.ico", "/static/js/edms.js", "/login", "/no-such-page"):
        assert session_cookies(late.get(url)) == [], url

    login = client.get("/login")
    assert "<h1>サインイン</h1>" in login.get_data(as_text=True)
    signed_in = client.post("/login", data={"username": "kenji.sato", "password": PASSWORD,
                                            "csrf_token": csrf_token(login.get_data(as_text=True))})
    assert signed_in.status_code == 302
    assert "ようこそ" in client.get("/").get_data(as_text=True)  # the pick became his own setting


def test_an_answer_that_changes_the_session_still_sends_it_and_a_flash_reaches_the_next_page(app, client, people):
    people.make("kenji.sato", "author", printed_name="Kenji Sato")
    first = client.get("/login")
    assert session_cookies(first)  # its CSRF token is new
    signed_in = client.post("/login", data={"username": "kenji.sato", "password": PASSWORD,
                                            "csrf_token": csrf_token(first.get_data(as_text=True))})
    assert session_cookies(signed_in)
    home = client.get("/")
    signed_out = client.post("/logout", data={"csrf_token": csrf_token(home.get_data(as_text=True))})
    assert signed_out.status_code == 302 and session_cookies(signed_out)
    assert "You have signed out." in client.get("/login").get_data(as_text=True)  # the flash, kept in the session
