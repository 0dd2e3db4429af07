"""The audit trail over the API: the same filter and verification as the pages (11.10(e), 11.10(a))."""
from __future__ import annotations

from flask import g, jsonify, request

from edms.api import schemas as S
from edms.api.blueprint import bp, token_required
from edms.api.openapi import listing, operation
from edms.application import audit_trail
from edms.audit.search import MAX_PAGE, FilterError, event_json, oldest_first, parse_filter
from edms.pki import PkiError, trust_anchors
from edms.users.queries import find_user
from edms.users.roles import ADMIN, INSPECTOR, QA
from edms.web.bounds import query_int
from edms.web.errors import api_error
from edms.web.labels import case_id_named
from edms.web.runtime import audit_context, db, services, settings

FILTERS = ("object_type", "object_id", "document_version", "case_id", "user", "actor_id", "action", "from", "to",
           "seq_from", "seq_to")


def _user_id(username: str) -> int | None:
    user = find_user(db(), username)
    return user.id if user else None


@bp.get("/audit")
@operation(
    "Audit events in chain order (administrators, QA, inspectors). Filters as query parameters: object_type, "
    "object_id, document_version, case_id (the case's number or its reference, e.g. CASE-2026-0001), "
    "user (user name) or actor_id, action, from and to (a date, whole days "
    "in your time zone, or a date-time with offset; `to` dates are inclusive), seq_from, seq_to. Pages: pass "
    "`next_after` back as `after`; `limit` up to 500.",
    responses={"200": "OK: {items, next_after}", "400": "Invalid filter", "401": "No valid token",
               "403": "Not allowed to read the audit trail"},
    schemas=listing(S.AUDIT_EVENT, "next_after"),
)
@token_required(ADMIN, QA, INSPECTOR)
def audit_events():
    try:
        flt = parse_filter(request.args, g.api_user.timezone, _user_id, case_id_named)
        after = query_int("after")
        limit = query_int("limit", 100, low=1, high=MAX_PAGE)
    except FilterError as exc:
        return api_error(400, "invalid_filter", str(exc), {"parameters": list(FILTERS)})
    events, next_after = oldest_first(db(), flt, after=after, limit=limit)
    return jsonify({"items": [event_json(event) for event in events], "next_after": next_after})


@bp.get("/audit/verify")
@operation(
    "Verify the audit chain, its signed checkpoints and every registered check now (recorded as audit.verified). "
    "`ok` is false and `first_problem` names the first broken item when anything fails.",
    responses={"200": "The verification report", "401": "No valid token", "403": "Not allowed to verify"},
    schemas={"200": S.VERIFICATION_REPORT},
)
@token_required(ADMIN, INSPECTOR, QA)
def audit_verify():
    try:
        trust = trust_anchors(settings())
    except PkiError as exc:
        return api_error(500, "pki_unavailable", str(exc))
    report = audit_trail.verify(services(), db(), audit_context(), trust)
    return jsonify(report.to_dict())

