"""Inspection over the API: search, signed-history timelines and inspection packages (read-only)."""
from __future__ import annotations

from flask import g, jsonify, request, url_for

from edms.api import schemas as S
from edms.api.blueprint import bp, token_required
from edms.api.openapi import listing, operation
from edms.application import jobs
from edms.audit.search import event_json
from edms.documents import models as dm
from edms.documents.types import LANGUAGES
from edms.inspection.package import CASE, DOCUMENT, NothingToExport, Scope
from edms.inspection.search import CASE_FIELDS, MAX_PAGE, PAGE_SIZE, SearchError, parse_query, search
from edms.inspection.timeline import Timeline, case_timeline, document_timeline
from edms.signatures.presentation import manifestation_json
from edms.timeutil import isoformat_utc
from edms.users.roles import INSPECTOR, QA, REGULATORY
from edms.web.bounds import query_int
from edms.web.errors import api_error
from edms.web.job_views import job_json
from edms.web.labels import case_id_named
from edms.web.runtime import audit_context, db, services

READERS = (INSPECTOR, QA, REGULATORY)
READER_RESPONSES = {"401": "No valid token", "403": "Not an inspector, QA or regulatory affairs"}


def _hit_json(hit) -> dict:
    document = hit.document
    return {
        "id": document.id, "number": document.number, "type": document.type_key, "title": document.title,
        "status": document.status, "case_id": document.case_id, "current_version": hit.version.version,
        "version_status": hit.version.status, "content_sha256": hit.version.content_sha256,
        "signature_count": hit.signature_count,
        "signatures": [{"kind": s.kind, "meaning": s.meaning, "step": s.step, "printed_name": s.printed_name,
                        "signed_at": isoformat_utc(s.signed_at)} for s in hit.signatures],
        "timeline_url": url_for("api.document_timeline_json", document_id=document.id),
    }


@bp.get("/search")
@operation(
    "Find documents (inspectors, QA, regulatory affairs). Criteria, all optional and combined: number (prefix), "
    "type, case (its reference, e.g. CASE-2026-0001, or its number), "
    f"{', '.join(CASE_FIELDS)} (exact field values), status, signer (user name or part of the printed "
    "name), meaning, from and to (dates in your zone, or date-times with offset), q (text in title or fields). "
    "Newest first; pass `next_before` back as `before`; `limit` up to 200.",
    schemas=listing(S.SEARCH_HIT, "next_before"),
    responses={"200": "OK: {items, next_before}", "400": "Invalid criterion", **READER_RESPONSES},
)
@token_required(*READERS)
def search_records():
    try:
        query = parse_query(request.args, g.api_user.timezone, case_id_named)
    except SearchError as exc:
        return api_error(400, "invalid_query", str(exc))
    results = search(db(), query, before=query_int("before"), limit=query_int("limit", PAGE_SIZE, low=1, high=MAX_PAGE),
                     reader=g.api_user)
    return jsonify({"items": [_hit_json(hit) for hit in results.hits], "next_before": results.next_before})


def _timeline_json(timeline: Timeline) -> dict:
    return {
        "documents": [{"id": d.id, "number": d.number, "type": d.type_key, "title": d.title, "status": d.status,
                       "versions": [{"version": v.version, "status": v.status, "content_sha256": v.content_sha256}
                                    for v in d.versions]} for d in timeline.documents],
        "entries": [{
            "at": isoformat_utc(entry.at), "kind": entry.kind, "action": entry.action, "actor": entry.actor,
            "document_id": entry.document.id if entry.document else None, "version": entry.version,
            "reason": entry.reason, "event": event_json(entry.event) if entry.event else None,
            "signature": manifestation_json(entry.signature) if entry.signature else None,
        } for entry in timeline.entries],
    }


@bp.get("/documents/<int:document_id>/timeline")
@operation(
    "The document's signed history: every audit event in order, each linked to its version, signatures with "
    "their manifestation and verification now; `access=1` includes inspectors' access records",
    responses={"200": "OK: {documents, entries}", "404": "No such document", **READER_RESPONSES},
    schemas={"200": S.TIMELINE},
)
@token_required(*READERS)
def document_timeline_json(document_id: int):
    document = db().get(dm.Document, document_id)
    if document is None:
        return api_error(404, "not_found", "No such document.")
    timeline = document_timeline(db(), document, services().trust(db()), services().document_types,
                                 include_access=request.args.get("access") == "1")
    return jsonify(_timeline_json(timeline))


@bp.get("/cases/<int:case_id>/timeline")
@operation(
    "The signed history of every document of the case, in one timeline",
    responses={"200": "OK: {documents, entries}", "404": "No such case", **READER_RESPONSES},
    schemas={"200": S.TIMELINE},
)
@token_required(*READERS)
def case_timeline_json(case_id: int):
    timeline = case_timeline(db(), case_id, services().trust(db()), services().document_types,
                             include_access=request.args.get("access") == "1")
    if not timeline.documents and not timeline.entries:
        return api_error(404, "not_found", "No such case.")
    return jsonify(_timeline_json(timeline))


def _export(scope: Scope):
    """Queue the package: 202 with the job (Location: /api/v1/jobs/<id>); the worker builds it."""
    language = request.args.get("language", "en")
    if language not in LANGUAGES:
        return api_error(400, "invalid_request", f"language must be one of {', '.join(LANGUAGES)}.")
    try:
        job = jobs.request_export(services(), db(), audit_context(), g.api_user, scope, language=language,
                                  display_tz=g.api_user.timezone)
    except NothingToExport as exc:
        return api_error(404, "not_found", str(exc))
    response = jsonify(job_json(job))
    response.status_code = 202
    response.headers["Location"] = url_for("api.job_detail", job_id=job.id)
    return response


EXPORT_RESPONSES = {"202": "Queued: the job (Location: its URL); its result is the package (application/zip)",
                    "404": "Nothing to export", **READER_RESPONSES}
LANGUAGE = [{"name": "language", "in": "query", "schema": {"type": "string", "enum": ["en", "ja"]},
             "description": "language of the renditions and labels (default en)"}]


@bp.post("/documents/<int:document_id>/export")
@operation(
    "An inspection package of the document: every version's content, renditions, attachments, signatures, "
    "time-stamps, certificates, CRL and audit events with signed checkpoints, sealed by the system key; "
    "verify offline with `edms-verify` or the openssl commands in its VERIFY.md (recorded as "
    "inspection.exported). A POST: it queues a job and answers 202 at once with the job (Location: "
    "/api/v1/jobs/{id}); the worker writes the audit event and a checkpoint and builds the package, then "
    "GET /api/v1/jobs/{id}/result gives it; inspectors' tokens may make it",
    responses=EXPORT_RESPONSES, schemas={"202": S.JOB},
    parameters=LANGUAGE,
)
@token_required(*READERS)
def export_document(document_id: int):
    return _export(Scope(DOCUMENT, document_id))


@bp.post("/cases/<int:case_id>/export")
@operation("An inspection package of every document of the case (see the document "
           "export)", responses=EXPORT_RESPONSES, schemas={"202": S.JOB}, parameters=LANGUAGE)
@token_required(*READERS)
def export_case(case_id: int):
    return _export(Scope(CASE, case_id))

