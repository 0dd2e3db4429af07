"""Signed-in page sessions over the API (administrators): the same list and the same ending as the Active
sessions page."""
from __future__ import annotations

from datetime import timedelta

from flask import abort, jsonify

from edms.api import schemas as S
from edms.api.blueprint import bp, json_body, token_required
from edms.api.openapi import listing, operation
from edms.application import access
from edms.timeutil import isoformat_utc, utc_now
from edms.users.errors import AccountError
from edms.users.models import WebSession
from edms.users.roles import ADMIN
from edms.users.session_records import active_sessions
from edms.web.errors import api_error
from edms.web.runtime import audit_context, db, services, settings


def session_json(row: WebSession) -> dict:
    return {"id": row.id, "user_id": row.user_id, "username": row.user.username,
            "printed_name": row.user.printed_name, "started_at": isoformat_utc(row.created_at),
            "last_seen_at": isoformat_utc(row.last_seen_at), "client_addr": row.client_addr,
            "user_agent": row.user_agent, "ended_at": isoformat_utc(row.ended_at) if row.ended_at else None,
            "end_reason": row.end_reason}


@bp.get("/sessions")
@operation(
    "Active page sessions, by person: started, last seen (written at most once a minute), client (administrators)",
    schemas=listing(S.WEB_SESSION),
    responses={"200": "OK", "401": "No valid token", "403": "Not an administrator"},
)
@token_required(ADMIN)
def list_sessions():
    rows = active_sessions(db(), utc_now(), timedelta(minutes=settings().idle_minutes))
    return jsonify({"items": [session_json(row) for row in rows]})


@bp.post("/sessions/<int:session_id>/end")
@operation(
    "End one page session (reason required, audited as auth.session_ended); the person is signed out at their "
    "next request, whichever node answers",
    body={"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string"}}},
    responses={"200": "Ended", "400": "No reason given, or one longer than 2000 characters or holding control "
               "characters", "404": "No such session", "409": "Already ended"},
    schemas={"200": S.WEB_SESSION},
)
@token_required(ADMIN)
def end_session(session_id: int):
    row = db().get(WebSession, session_id)
    if row is None:
        abort(404)
    reason = json_body().get("reason")
    if not isinstance(reason, str) or not reason.strip():
        return api_error(400, "reason_required", "Give the reason for ending the session.", {"reason": "required"})
    try:
        ended = access.end_session(services(), db(), audit_context(), row, reason.strip())
    except AccountError as exc:
        return api_error(400, "invalid_reason", f"'reason': {exc}", {"reason": str(exc)})
    if not ended:
        return api_error(409, "session_already_ended", "That session had already ended.")
    return jsonify(session_json(row))
