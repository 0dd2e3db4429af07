"""The JSON schemas of the API's success answers, each defined once, as data, from what the views return
(api/*_routes.py, signatures/presentation.py, audit/search.py, audit/integrity.py). A key is `required` only
when the view always gives it; a value that can be null says so; objects stay open to new keys."""
from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
NULLABLE_BOOLEAN: Schema = {"type": ["boolean", "null"]}
NULLABLE_STRING: Schema = {"type": ["string", "null"]}
NULLABLE_INTEGER: Schema = {"type": ["integer", "null"]}
TIME: Schema = {"type": "string", "format": "date-time"}
NULLABLE_TIME: Schema = {"type": ["string", "null"], "format": "date-time"}
STRINGS: Schema = {"type": "array", "items": STRING}
ANY: Schema = {}  # a JSON value of the document type's own shape (a field value, a manifest)


def obj(properties: dict[str, Schema], *, optional: tuple[str, ...] = ()) -> Schema:
    """An object whose keys are all always present except `optional`; further keys are allowed."""
    return {"type": "object", "required": sorted(set(properties) - set(optional)), "properties": properties}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


LOCALIZED = obj({"en": STRING, "ja": STRING})
NULLABLE_LOCALIZED = nullable(LOCALIZED)

USER = obj({"id": INTEGER, "username": STRING, "printed_name": STRING, "title": NULLABLE_STRING, "roles": STRINGS,
            "timezone": STRING, "language": {"enum": ["en", "ja"]}, "active": BOOLEAN})

REVOKED = obj({"revoked": BOOLEAN})

WEB_SESSION = obj({"id": INTEGER, "user_id": INTEGER, "username": STRING, "printed_name": STRING, "started_at": TIME,
                   "last_seen_at": TIME, "client_addr": STRING, "user_agent": STRING, "ended_at": NULLABLE_TIME,
                   "end_reason": {"enum": ["signed_out", "idle", "replaced", "account_changed", "ended_by_admin",
                                           None]}})

# --- documents --------------------------------------------------------------------------------------------

FIELD = obj({
    "name": STRING, "type": STRING, "required": BOOLEAN, "label": NULLABLE_LOCALIZED, "help": NULLABLE_LOCALIZED,
    "max_length": NULLABLE_INTEGER, "pattern": NULLABLE_STRING, "example": ANY, "min": NULLABLE_STRING,
    "max": NULLABLE_STRING, "unit": NULLABLE_STRING,
    "choices": array(obj({"value": ANY, "label": NULLABLE_LOCALIZED})), "ref_types": STRINGS, "safety": ANY,
})
STEP = obj({"name": STRING, "roles": STRINGS, "meaning": STRING, "label": NULLABLE_LOCALIZED, "approvals": INTEGER,
            "allow_same_signer": BOOLEAN, "after": STRINGS, "signer": ANY})
DOCUMENT_TYPE = obj({"key": STRING, "name": NULLABLE_LOCALIZED, "description": NULLABLE_LOCALIZED, "numbering": ANY,
                     "number_pattern": STRING, "source_sha256": NULLABLE_STRING, "fields": array(FIELD),
                     "steps": array(STEP)})

ATTACHMENT = obj({"id": INTEGER, "name": STRING, "media_type": STRING, "size": INTEGER, "sha256": STRING,
                  "added_by": NULLABLE_INTEGER, "added_at": NULLABLE_TIME, "url": STRING})

_VERSION_SUMMARY: dict[str, Schema] = {
    "version": INTEGER, "status": STRING, "title": NULLABLE_STRING, "reason": NULLABLE_STRING,
    "content_sha256": NULLABLE_STRING, "created_by": NULLABLE_INTEGER, "created_at": NULLABLE_TIME,
    "frozen_at": NULLABLE_TIME, "status_changed_at": NULLABLE_TIME,
}
VERSION_SUMMARY = obj(_VERSION_SUMMARY)
VERSION = obj({"document_id": INTEGER, "number": STRING, "type": STRING, **_VERSION_SUMMARY,
               "updated_at": NULLABLE_TIME, "values": {"type": "object"}, "attachments": array(ATTACHMENT)})
DOCUMENT = obj({"id": INTEGER, "number": STRING, "type": STRING, "title": NULLABLE_STRING, "status": STRING,
                "owner_id": NULLABLE_INTEGER, "case_id": NULLABLE_INTEGER, "created_at": NULLABLE_TIME,
                "current_version": NULLABLE_INTEGER, "versions": array(VERSION_SUMMARY)})
DIFF = obj({"a": INTEGER, "b": INTEGER, "reason": NULLABLE_STRING,
            "changes": array(obj({"field": STRING, "label": ANY, "old": ANY, "new": ANY}))})

SIGNED_PDF = obj({
    "document_id": INTEGER, "number": STRING, "version": INTEGER, "size": INTEGER, "checked_at": TIME,
    "revisions": array(obj({"revision": INTEGER, "kind": STRING, "length": INTEGER, "sha256": STRING,
                            "signature_id": NULLABLE_STRING, "created_at": TIME})),
    "signatures": array(obj({"field": STRING, "kind": STRING, "signer": STRING, "ok": BOOLEAN, "intact": BOOLEAN,
                             "trusted": BOOLEAN, "timestamp": NULLABLE_TIME, "ltv": BOOLEAN,
                             "modifications_ok": BOOLEAN, "summary": STRING})),
})

# --- signatures -------------------------------------------------------------------------------------------

_MANIFESTATION: dict[str, Schema] = {
    "signature_id": STRING, "kind": STRING, "step": NULLABLE_STRING, "step_label": NULLABLE_STRING,
    "meaning": NULLABLE_STRING, "meaning_label": NULLABLE_STRING, "role": NULLABLE_STRING, "printed_name": STRING,
    "username": NULLABLE_STRING, "signed_at": TIME, "timestamped_at": TIME, "comment": NULLABLE_STRING,
    "on_behalf_of": nullable(obj({"printed_name": STRING, "username": NULLABLE_STRING, "delegation_id": INTEGER,
                                  "valid_from": TIME, "valid_until": TIME})),
    "verification": obj({"valid": BOOLEAN, "status": STRING, "reason": NULLABLE_STRING}),
}
MANIFESTATION = obj(_MANIFESTATION)
SIGNED = obj({"signature": MANIFESTATION, "version_status": STRING, "document_status": STRING})
SIGNATURE_EVIDENCE = obj({
    **_MANIFESTATION, "document_id": INTEGER, "document_number": NULLABLE_STRING, "version": INTEGER,
    "manifest": ANY, "manifest_base64": STRING, "cms_base64": STRING, "signature_value_base64": NULLABLE_STRING,
    "timestamp_response_base64": STRING, "timestamp_token_base64": NULLABLE_STRING,
    "certificate_chain_pem": NULLABLE_STRING,
})

# --- sites ------------------------------------------------------------------------------------------------

SITE = obj({"id": INTEGER, "name": STRING, "timezone": STRING, "country": STRING, "created_at": TIME,
            "members": array(obj({"id": INTEGER, "username": STRING, "printed_name": STRING}))})

# --- cases ------------------------------------------------------------------------------------------------

_CASE: dict[str, Schema] = {
    "id": INTEGER, "reference": STRING, "regime": STRING, "jurisdiction": NULLABLE_STRING, "product": STRING,
    "lot": STRING, "patient_ref": STRING, "site_id": INTEGER, "treating_site": STRING, "site_timezone": STRING,
    "physician_id": NULLABLE_INTEGER, "status": STRING, "created_at": NULLABLE_TIME,
    "dates": {"type": "object", "additionalProperties": NULLABLE_TIME},
    "answers": {"type": "object"},
}
CASE_SUMMARY = obj(_CASE)
CASE = obj({
    **_CASE,
    "checklist": array(obj({"type": STRING, "applies": NULLABLE_BOOLEAN, "satisfied": BOOLEAN, "blockers": STRINGS,
                            "shortfalls": STRINGS, "next_roles": STRINGS, "source": ANY})),
    "deadlines": array(obj({"key": STRING, "label": STRING, "direction": STRING, "state": STRING,
                            "due_at": NULLABLE_TIME, "time_left_seconds": NULLABLE_INTEGER, "source": ANY})),
    "administration_blockers": STRINGS,
    "documents": array(obj({"id": INTEGER, "number": STRING, "type": STRING, "status": STRING})),
})
# What a case's regime requires of a record's fields before anyone signs it (issue 12).
REQUIREMENT = obj({"field": STRING, "label": LOCALIZED, "needed": array(ANY), "outcome": BOOLEAN,
                   "text": LOCALIZED, "prefill": ANY})
CASE_REQUIREMENTS = obj({"case": STRING, "type": STRING, "requirements": array(REQUIREMENT),
                         "accepted_references": {"type": "object", "additionalProperties": STRINGS}})

# --- the caller's work ------------------------------------------------------------------------------------

DELEGATION = obj({"id": INTEGER, "delegator_id": INTEGER, "delegate_id": INTEGER, "role": STRING,
                  "starts_at": TIME, "ends_at": TIME, "reason": NULLABLE_STRING, "created_by": NULLABLE_INTEGER,
                  "created_at": TIME, "revoked_at": NULLABLE_TIME, "revoked_by": NULLABLE_INTEGER,
                  "revocation_reason": NULLABLE_STRING})
NOTIFICATION = obj({"id": INTEGER, "kind": STRING, "subject": STRING, "body": STRING,
                    "document_id": NULLABLE_INTEGER, "case_id": NULLABLE_INTEGER, "created_at": TIME,
                    "status": STRING, "sent_at": NULLABLE_TIME})
TASK = obj({"kind": STRING, "title": STRING, "type": STRING, "document_id": NULLABLE_INTEGER,
            "document_number": NULLABLE_STRING, "version": NULLABLE_INTEGER, "status": NULLABLE_STRING,
            "case_id": NULLABLE_INTEGER, "case_reference": NULLABLE_STRING, "step": NULLABLE_STRING,
            "step_name": NULLABLE_STRING, "role": NULLABLE_STRING, "on_behalf_of": NULLABLE_STRING,
            "due_at": NULLABLE_TIME, "overdue": BOOLEAN, "waiting": BOOLEAN, "waiting_for": array(LOCALIZED)})

# What a person still holds open, listed before deactivation (edms.application.assignments).
ASSIGNMENTS = obj({
    "user_id": INTEGER, "count": INTEGER,
    "cases": array(obj({"id": INTEGER, "reference": STRING, "status": STRING})),
    "documents": array(obj({"id": INTEGER, "number": STRING, "type": STRING, "status": STRING,
                            "candidate_owner_ids": array(INTEGER)})),
    "steps": array(TASK),
    "delegations": array(DELEGATION),
    "candidate_physician_ids": array(INTEGER),
})

# --- the audit trail and inspection -----------------------------------------------------------------------

AUDIT_EVENT = obj({
    "seq": INTEGER, "occurred_at": TIME, "actor": obj({"id": NULLABLE_INTEGER, "name": STRING}),
    "action": STRING, "object_type": STRING, "object_id": NULLABLE_STRING,
    "document_version": NULLABLE_INTEGER, "case_id": NULLABLE_STRING, "reason": NULLABLE_STRING,
    "changes": ANY, "request_id": STRING, "client_addr": NULLABLE_STRING, "app_version": STRING,
    "prev_hash": STRING, "hash": STRING,
})
PROBLEM = obj({"check": STRING, "table": STRING, "key": STRING, "description": STRING})
VERIFICATION_REPORT = obj({
    "ok": BOOLEAN, "summary": STRING, "started_at": STRING, "finished_at": NULLABLE_STRING, "checks": STRINGS,
    "counts": {"type": "object", "additionalProperties": INTEGER},
    "chain_head": nullable(obj({"seq": INTEGER, "hash": STRING})), "problem_count": INTEGER,
    "first_problem": nullable(PROBLEM), "problems": array(PROBLEM), "warnings": array(PROBLEM),
})
SEARCH_HIT = obj({
    "id": INTEGER, "number": STRING, "type": STRING, "title": NULLABLE_STRING, "status": STRING,
    "case_id": NULLABLE_INTEGER, "current_version": INTEGER, "version_status": STRING,
    "content_sha256": NULLABLE_STRING, "signature_count": INTEGER,
    "signatures": array(obj({"kind": STRING, "meaning": NULLABLE_STRING, "step": NULLABLE_STRING,
                             "printed_name": STRING, "signed_at": TIME})),
    "timeline_url": STRING,
})
TIMELINE = obj({
    "documents": array(obj({"id": INTEGER, "number": STRING, "type": STRING, "title": NULLABLE_STRING,
                            "status": STRING,
                            "versions": array(obj({"version": INTEGER, "status": STRING,
                                                   "content_sha256": NULLABLE_STRING}))})),
    "entries": array(obj({"at": TIME, "kind": STRING, "action": NULLABLE_STRING, "actor": NULLABLE_STRING,
                          "document_id": NULLABLE_INTEGER, "version": NULLABLE_INTEGER, "reason": NULLABLE_STRING,
                          "event": nullable(AUDIT_EVENT), "signature": nullable(MANIFESTATION)})),
})

OPENAPI = obj({"openapi": STRING, "info": {"type": "object"}, "paths": {"type": "object"},
               "components": {"type": "object"}}, optional=("components",))

# --- routing: versions nobody active and ready now could complete ---------------------------------------

BLOCKED_STEP = obj({
    "step": STRING, "step_label": LOCALIZED, "remaining": INTEGER, "missing": LOCALIZED,
    "people": array(obj({"user_id": NULLABLE_INTEGER, "printed_name": NULLABLE_STRING, "reasons": STRINGS,
                         "explanation": LOCALIZED})),
    "advice": array(obj({"code": STRING, "text": LOCALIZED})),
})
COMPLETABILITY = obj({"document_id": INTEGER, "version": NULLABLE_INTEGER, "in_review": BOOLEAN,
                      "completable": BOOLEAN, "blocked": nullable(BLOCKED_STEP)})
STUCK_RECORD = obj({"document_id": INTEGER, "number": STRING, "title": STRING, "type": STRING, "version": INTEGER,
                    "owner_id": INTEGER, "owner": STRING, "case_id": NULLABLE_INTEGER,
                    "case_reference": NULLABLE_STRING, "submitted_at": TIME, "blocked": BLOCKED_STEP})

# A job (edms/web/job_views.job_json): a long piece of work run by the worker, e.g. an inspection package.
JOB = obj({"id": INTEGER, "kind": STRING, "status": {"enum": ["queued", "running", "succeeded", "failed"]},
           "attempts": INTEGER, "max_attempts": INTEGER, "phase": STRING,
           "progress": obj({"done": INTEGER, "total": INTEGER}), "requested_at": TIME, "started_at": NULLABLE_TIME,
           "finished_at": NULLABLE_TIME, "finished": BOOLEAN, "result": {"type": ["object", "null"]},
           "last_error": NULLABLE_STRING})
