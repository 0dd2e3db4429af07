"""Delegations over the API: list those given or received, delegate while absent, end one early."""
from __future__ import annotations

from datetime import datetime

from flask import abort, g, jsonify

from edms.api import schemas as S
from edms.api.blueprint import aware_time, bp, json_body, token_required
from edms.api.openapi import listing, operation
from edms.application import delegations
from edms.application.reauthentication import ReauthenticationRefused
from edms.timeutil import isoformat_utc
from edms.users.models import User
from edms.users.roles import ADMIN, CONTENT_ROLES
from edms.web.errors import api_error
from edms.web.runtime import audit_context, db, services
from edms.workflow import delegations as ops
from edms.workflow.models import Delegation


@bp.errorhandler(ops.DelegationError)
def refused(exc: ops.DelegationError):
    return api_error(400, "delegation_refused", str(exc))


@bp.errorhandler(ReauthenticationRefused)
def reauthentication_refused(exc: ReauthenticationRefused):
    return api_error(403, "password_confirmation_failed", str(exc))


def delegation_json(row: Delegation) -> dict:
    return {
        "id": row.id, "delegator_id": row.delegator_id, "delegate_id": row.delegate_id, "role": row.role,
        "starts_at": isoformat_utc(row.starts_at), "ends_at": isoformat_utc(row.ends_at), "reason": row.reason,
        "created_by": row.created_by, "created_at": isoformat_utc(row.created_at),
        "revoked_at": isoformat_utc(row.revoked_at) if row.revoked_at else None,
        "revoked_by": row.revoked_by, "revocation_reason": row.revocation_reason,
    }


def _aware(body: dict, key: str) -> datetime:
    return aware_time(body, key, ops.DelegationError)


def _user(body: dict, key: str) -> User:
    value = body.get(key)
    user = db().get(User, value) if isinstance(value, int) and not isinstance(value, bool) else None
    if user is None:
        raise ops.DelegationError(f"'{key}' must be the id of an existing user")
    return user


@bp.get("/delegations")
@operation("Delegations given or received by the caller (every delegation for administrators)", schemas=listing(S.DELEGATION))
@token_required(*CONTENT_ROLES, ADMIN)
def list_delegations():
    rows = ops.every(db()) if g.api_user.has_role(ADMIN) else ops.involving(db(), g.api_user.id)
    return jsonify({"items": [delegation_json(row) for row in rows]})


@bp.post("/delegations")
@operation(
    "Delegate one's named signing steps while absent (delegate_id, role, starts_at and "
    "ends_at with offsets, reason; administrators may give delegator_id). Handing over signing authority is "
    "confirmed with the caller's own password: a bearer token alone never suffices; a wrong password is "
    "refused (403), audited and counted towards lockout",
    body={"type": "object", "required": ["delegate_id", "role", "starts_at", "ends_at", "reason", "password"],
          "properties": {"delegate_id": {"type": "integer"}, "delegator_id": {"type": "integer"}, "role": {"type": "string"},
                         "starts_at": {"type": "string", "format": "date-time"},
                         "ends_at": {"type": "string", "format": "date-time"}, "reason": {"type": "string"},
                         "password": {"type": "string",
                                      "description": "the caller's password, re-entered as for a signature"}}},
    responses={"201": "Created", "400": "Refused", "403": "Role not allowed, or wrong password"},
    schemas={"201": S.DELEGATION},
)
@token_required(*CONTENT_ROLES, ADMIN)
def create_delegation():
    body = json_body()
    delegator = _user(body, "delegator_id") if "delegator_id" in body else g.api_user
    delegate_to = _user(body, "delegate_id")
    row = delegations.delegate(services(), db(), audit_context(), g.api_user, delegator=delegator,
                               delegate_to=delegate_to, role=str(body.get("role", "")),
                               starts_at=_aware(body, "starts_at"), ends_at=_aware(body, "ends_at"),
                               reason=str(body.get("reason", "")), password=body.get("password"))
    return jsonify(delegation_json(row)), 201


@bp.post("/delegations/<int:delegation_id>/revoke")
@operation("End a delegation early (reason required)", body={"type": "object", "required": ["reason"],
                                                             "properties": {"reason": {"type": "string"}}},
           responses={"200": "Revoked", "400": "Refused"}, schemas={"200": S.DELEGATION})
@token_required(*CONTENT_ROLES, ADMIN)
def revoke_delegation(delegation_id: int):
    row = db().get(Delegation, delegation_id)
    if row is None:
        abort(404)
    delegations.revoke(services(), db(), audit_context(), g.api_user, row, str(json_body().get("reason", "")))
    return jsonify(delegation_json(row))

