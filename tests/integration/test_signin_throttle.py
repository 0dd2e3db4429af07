"""Sign-in throttling per account and per client (issue #12; 21 CFR 11.300(d), 11.10(d)).

Failed sign-ins count under the user name tried and under the client address. A hospital's proxy shows one
address for everyone behind it: many failed sign-ins under one name from there throttle that name only, never
the other people behind the same address; guessing many names from one address meets the client's own limit.
The throttled page is a normal page in the person's language; the API answers 429 in JSON."""
from __future__ import annotations

import dataclasses

import pytest

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
