"""The JSON API: bearer tokens, stable errors, OpenAPI (21 CFR 11.10(d), 11.10(h))."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from edms.audit.models import AuditEvent
from edms.users.models import ApiToken
from tests.conftest import PASSWORD


def token_for(client, username, password=PASSWORD):
    response = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert response.status_code == 201, response.json
    return response.json["token"]


def test_a_token_identifies_the_caller(client, people):
    people.make("kenji.sato", "author", printed_name="Kenji Sato")
    token = token_for(client, "kenji.sato")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json["printed_name"] == "Kenji Sato" and me.json["roles"] == ["author"]


@pytest.mark.req("11.10(h)")
def test_requests_without_a_registered_credential_are_refused_and_logged(app, client):
    for header in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic abc"}):
        response = client.get("/api/v1/me", headers=header)
        assert response.status_code == 401
        assert set(response.json["error"]) == {"code", "message", "details"}
    with app.extensions["edms"].sessions() as session:
        failures = session.scalars(select(AuditEvent).where(AuditEvent.action == "api.auth_failed")).all()
    assert len(failures) == 3 and failures[0].client_addr == "127.0.0.1"


@pytest.mark.req("11.10(d)")
def test_expired_and_revoked_tokens_are_refused(app, client, people):
    people.make("kenji.sato", "author")
    token = token_for(client, "kenji.sato")
    with app.extensions["edms"].sessions() as session:
        row = session.scalars(select(ApiToken)).one()
        row.expires_at = row.expires_at - timedelta(hours=2)
        session.commit()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    token = token_for(client, "kenji.sato")
    assert client.post("/api/v1/auth/revoke", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_wrong_credentials_give_a_json_error_and_count_towards_lockout(client, people):
    people.make("kenji.sato", "author")
    response = client.post("/api/v1/auth/token", json={"username": "kenji.sato", "password": "nope-nope-nope"})
    assert response.status_code == 401 and response.json["error"]["code"] == "bad_credentials"
    assert client.post("/api/v1/auth/token", json={"username": 5}).status_code == 400


@pytest.mark.req("11.10(g)")
def test_only_administrators_list_accounts(client, people, admin):
    people.make("kenji.sato", "author")
    author = token_for(client, "kenji.sato")
    assert client.get("/api/v1/users", headers={"Authorization": f"Bearer {author}"}).status_code == 403
    admin_token = token_for(client, "daisuke.kato")
    listing = client.get("/api/v1/users", headers={"Authorization": f"Bearer {admin_token}"})
    assert {u["username"] for u in listing.json["items"]} == {"kenji.sato", "daisuke.kato"}


def test_openapi_document_lists_the_api(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert {"/auth/token", "/me", "/users"} <= set(spec["paths"])


def test_unknown_api_paths_answer_json(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
