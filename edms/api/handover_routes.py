"""Handing work over over the API (administrators), the same use cases as the pages (web/handover_views.py):
what a person still holds open, the transfer of a document's ownership, the change of a case's treating
physician, the reactivation of an account."""
from __future__ import annotations

from flask import abort, g, jsonify

from edms.api import schemas as S
from edms.api.auth_routes import user_json
from edms.api.blueprint import bp, json_body, token_required
from edms.api.case_routes import case_json
from edms.api.delegation_routes import delegation_json
from edms.api.document_routes import _document_json as document_json
from edms.api.openapi import operation
from edms.api.task_routes import task_json
from edms.application import accounts, assignments, cases, drafting
from edms.cases import models as cm
from edms.documents import models as dm
from edms.users.errors import AccountError
from edms.users.models import User
from edms.users.roles import ADMIN
from edms.web.errors import api_error
from edms.web.runtime import audit_context, db, services

_ADMIN = {"401": "No valid token", "403": "Not an administrator"}


@bp.errorhandler(AccountError)
def account_refused(exc: AccountError):
    return api_error(400, "account_refused", str(exc))


def _get_or_404(model, row_id: int, what: str):
    row = db().get(model, row_id)
    if row is None:
        abort(404, description=f"No {what} #{row_id}.")
    return row


def _person(body: dict, key: str) -> User:
    value = body.get(key)
    person = db().get(User, value) if isinstance(value, int) and not isinstance(value, bool) else None
    if person is None:
        response, status = api_error(400, "invalid_request", f"'{key}' must be the id of an account.",
                                     {key: "unknown account"})
        response.status_code = status
        abort(response)
    return person


@bp.get("/users/<int:user_id>/assignments")
@operation("What a person still holds open, to hand over before deactivation: active cases naming them as treating "
           "physician, unfinished records they own (with who could own each instead), signing steps waiting for "
           "them, current and coming delegations", schemas={"200": S.ASSIGNMENTS},
           responses={"200": "OK", "404": "No such account", **_ADMIN})
@token_required(ADMIN)
def open_assignments(user_id: int):
    user = _get_or_404(User, user_id, "account")
    found = assignments.open_assignments(services(), db(), user)
    return jsonify({
        "user_id": user.id, "count": found.count,
        "cases": [{"id": case.id, "reference": case.reference, "status": case.status} for case in found.cases],
        "documents": [{"id": d.id, "number": d.number, "type": d.type_key, "status": d.status,
                       "candidate_owner_ids": [p.id for p in assignments.owners_instead_of(services(), db(), d)]}
                      for d in found.documents],
        "steps": [task_json(task) for task in found.steps],
        "delegations": [delegation_json(row) for row in found.delegations],
        "candidate_physician_ids": [p.id for p in assignments.physicians_instead_of(db(), user)],
    })


@bp.post("/documents/<int:document_id>/owner")
@operation(
    "Transfer the document's ownership to another active writer of its type, with a reason (administrators; "
    "they never author: PIC/S PI 041 §9.5). Both owners are notified",
    body={"type": "object", "required": ["new_owner_id", "reason"],
          "properties": {"new_owner_id": {"type": "integer"}, "reason": {"type": "string"}}},
    responses={"200": "Transferred", "400": "reason_required or invalid_request",
               "404": "No such document", "409": "Withdrawn", **_ADMIN},
    schemas={"200": S.DOCUMENT},
)
@token_required(ADMIN)
def transfer_owner(document_id: int):
    document = _get_or_404(dm.Document, document_id, "document")
    body = json_body()
    new_owner = _person(body, "new_owner_id")
    drafting.transfer_ownership(services(), db(), audit_context(), g.api_user, document, new_owner,
                                body.get("reason") or "")
    return jsonify(document_json(document))


@bp.post("/cases/<int:case_id>/physician")
@operation(
    "Name another treating physician for the case, with a reason (administrators); both physicians are notified",
    body={"type": "object", "required": ["physician_id", "reason"],
          "properties": {"physician_id": {"type": "integer"}, "reason": {"type": "string"}}},
    responses={"200": "Changed", "400": "case_refused or invalid_request", "404": "No such case", **_ADMIN},
    schemas={"200": S.CASE_SUMMARY},
)
@token_required(ADMIN)
def change_physician(case_id: int):
    case = _get_or_404(cm.Case, case_id, "case")
    body = json_body()
    physician = _person(body, "physician_id")
    cases.change_physician(services(), db(), audit_context(), g.api_user, case, physician,
                           body.get("reason") or "")
    return jsonify(case_json(case))


@bp.post("/users/<int:user_id>/reactivate")
@operation(
    "Reactivate a deactivated account with a temporary password and a reason, confirmed with the administrator's "
    "own password. Its old certificates stay revoked; it signs again only after a second administrator's "
    "identity check",
    body={"type": "object", "required": ["password", "reason", "your_password"],
          "properties": {"password": {"type": "string"}, "reason": {"type": "string"},
                         "your_password": {"type": "string"}}},
    responses={"200": "Reactivated", "400": "account_refused", "404": "No such account", **_ADMIN},
    schemas={"200": S.USER},
)
@token_required(ADMIN)
def reactivate(user_id: int):
    user = _get_or_404(User, user_id, "account")
    body = json_body()
    accounts.reactivate(services(), db(), audit_context(), user, body.get("password") or "", body.get("reason") or "",
                        actor=g.api_user, actor_password=body.get("your_password"))
    return jsonify(user_json(user))
