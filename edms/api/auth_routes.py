"""Token issue and the caller's identity."""
from __future__ import annotations

from flask import current_app, g, jsonify, request

from edms.api import schemas as S
from edms.api.blueprint import bp, json_body, token_required
from edms.api.openapi import document, operation
from edms.application import access
from edms.web import throttle
from edms.web.errors import api_error
from edms.web.runtime import audit_context, db, services


def user_json(user) -> dict:
    return {
        "id": user.id,
        "username": user.username,
        "printed_name": user.printed_name,
        "title": user.title,
        "roles": sorted(user.roles),
        "timezone": user.timezone,
        "language": user.language,
        "active": user.active,
    }


@bp.get("/openapi.json")
@operation("This OpenAPI document", secured=False, schemas={"200": S.OPENAPI})
def openapi():
    return jsonify(document(current_app))


@bp.post("/auth/token")
@operation(
    "Exchange a user name and password for a bearer token",
    secured=False,
    body={"type": "object", "required": ["username", "password"],
          "properties": {"username": {"type": "string"}, "password": {"type": "string"}}},
    responses={"201": "Token issued", "400": "Invalid request",
               "401": "Refused: one answer (code bad_credentials) whether the name is unknown, the password wrong, "
                      "or the account locked, deactivated or expired",
               "429": "Too many failed sign-ins under this user name or from this client"},
    schemas={"201": {"type": "object", "required": ["token", "token_type", "expires_at"], "properties": {
        "token": {"type": "string"}, "token_type": {"const": "Bearer"},
        "expires_at": {"type": "string", "format": "date-time"}}}},
)
def token():
    body = json_body()
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        return api_error(400, "invalid_request", "Give 'username' and 'password' as strings.",
                         {"username": "required", "password": "required"})
    if throttle.refuse(username, channel="api"):  # the sign-in page's counts: per user name and per client; audited
        return api_error(429, "too_many_attempts", "Too many failed sign-ins with this user name or from this client: "
                                                   "wait a few minutes, then try again.")
    result = access.sign_in(services(), db(), audit_context(), username, password, channel="api")
    if not result.ok:
        throttle.failed(username)
        return api_error(401, "bad_credentials", result.message)  # one answer, whatever the reason
    if result.user.must_change_password:
        return api_error(403, "password_change_required", "Sign in to the web interface and change your password first.")
    value, expires = access.grant_token(services(), db(), audit_context(), result.user)
    return jsonify({"token": value, "token_type": "Bearer", "expires_at": expires.isoformat()}), 201


@bp.post("/auth/revoke")
@operation("Revoke the bearer token used for this request", schemas={"200": S.REVOKED})
@token_required()
def revoke():
    header = request.headers.get("Authorization", "")
    access.withdraw_token(services(), db(), audit_context(), header[7:].strip())
    return jsonify({"revoked": True})


@bp.get("/me")
@operation("The authenticated user", responses={"200": "OK", "401": "No valid token"}, schemas={"200": S.USER})
@token_required()
def me():
    return jsonify(user_json(g.api_user))



@bp.put("/me/language")
@operation(
    "Set your own language (en or ja): the pages after sign-in, your notifications and their e-mails follow it. "
    "Audited as user.language_changed.",
    body={"type": "object", "required": ["language"], "properties": {"language": {"enum": ["en", "ja"]}}},
    responses={"200": "The authenticated user, with the new language", "400": "Unknown language",
               "401": "No valid token"},
    schemas={"200": S.USER},
)
@token_required()
def set_my_language():
    language = json_body().get("language")
    if language not in ("en", "ja"):
        return api_error(400, "invalid_request", "Give 'language' as 'en' or 'ja'.", {"language": "en or ja"})
    access.set_own_language(services(), db(), audit_context(), g.api_user, language)
    return jsonify(user_json(g.api_user))
