"""The limit of refused bearer tokens per client is tested on every API request and counted only for a
refused one (21 CFR 11.10(h), 11.300(d)): a client past it is refused whatever it sends, a valid token
included, until the window passes."""
import dataclasses

import pytest

from tests.conftest import PASSWORD

LIMIT = 5


@pytest.fixture
def throttled_app(settings):
    from edms.app import create_app

    app = create_app(dataclasses.replace(settings, login_rate_limit=f"{LIMIT} per minute"))
    app.config["TESTING"] = True
    yield app
    app.extensions["edms"].engine.dispose()


@pytest.mark.req("11.10(h)")
def test_a_client_past_the_limit_of_refused_tokens_is_refused_even_with_a_valid_token(throttled_app, people):
    people.make("kenji.sato", "author")
    client = throttled_app.test_client()
    token = client.post("/api/v1/auth/token", json={"username": "kenji.sato", "password": PASSWORD}).json["token"]
    valid = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=valid).status_code == 200
    refused = [client.get("/api/v1/me", headers={"Authorization": f"Bearer forged-{n}"}) for n in range(LIMIT + 1)]
    assert [answer.status_code for answer in refused] == [401] * LIMIT + [429]
    assert refused[-1].json["error"]["code"] == "too_many_requests"
    assert client.get("/api/v1/me", headers=valid).status_code == 429
