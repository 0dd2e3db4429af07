"""Cases over the API: open a case, its checklist and deadlines, dates and answers."""
from __future__ import annotations

from datetime import datetime

from flask import abort, g, jsonify, request
from sqlalchemy import select

from edms.api import schemas as S
from edms.api.blueprint import aware_time, bp, json_body, token_required
from edms.api.openapi import listing, operation
from edms.application import cases
from edms.cases import models as cm
from edms.cases.attachable import document_by_number
from edms.cases.errors import CaseError, CaseOutOfScope
from edms.cases.facts import CASE_OPENERS, CaseFacts
from edms.cases.queries import case_documents, case_status
from edms.cases.requirements import requirements_in_case, type_in_case
from edms.errors import N_
from edms.timeutil import isoformat_utc
from edms.web.bounds import query_int
from edms.web.errors import api_error
from edms.web.paging import page_of
from edms.web.runtime import audit_context, db, services
from edms.workflow.visibility import visible_cases


@bp.errorhandler(CaseError)
def refused(exc: CaseError):
    if isinstance(exc, CaseOutOfScope):
        return api_error(404, "not_found", "No such case or record.")
    return api_error(400, "case_refused", str(exc))


def _time(value: datetime | None) -> str | None:
    return None if value is None else isoformat_utc(value)


def _aware(body: dict, key: str) -> datetime:
    return aware_time(body, key, CaseError)


def case_json(case: cm.Case, *, full: bool = False) -> dict:
    data = {
        "id": case.id, "reference": case.reference, "regime": case.regime_key, "jurisdiction": case.jurisdiction,
        "product": case.product, "lot": case.lot, "patient_ref": case.patient_ref,
        "site_id": case.site_id, "treating_site": case.treating_site, "site_timezone": case.site_timezone,
        "physician_id": case.physician_id, "status": case.status, "created_at": _time(case.created_at),
        "dates": {key: _time(value) for key, value in case.current_dates().items()},
        "answers": case.current_answers(),
    }
    if full:
        status = case_status(db(), case, services().document_types, services().regimes)
        data["checklist"] = [{
            "type": item.document.type_key, "applies": item.applies, "satisfied": item.satisfied,
            "blockers": [b.reason.en for b in item.blockers], "shortfalls": [s.en for s in item.shortfalls],
            "next_roles": list(item.next_roles), "source": item.document.source,
        } for item in status.checklist]
        data["deadlines"] = [{
            "key": d.key, "label": d.deadline.label.en, "direction": d.deadline.direction, "state": d.state,
            "due_at": _time(d.due_at), "time_left_seconds": None if d.time_left is None else int(d.time_left.total_seconds()),
            "source": d.deadline.source,
        } for d in status.deadlines]
        data["administration_blockers"] = [b.reason.en for b in status.administration_blockers]
        data["documents"] = [{"id": d.id, "number": d.number, "type": d.type_key, "status": d.status}
                             for d in case_documents(db(), case)]
    return data


def _case_or_404(case_id: int) -> cm.Case:
    case = db().get(cm.Case, case_id)
    if case is None:
        abort(404)
    return case


@bp.get("/cases")
@operation("Cases, filtered by lot, patient_ref, jurisdiction or status, newest last; keyset-paginated: pass the "
           "`next` cursor of a page as `cursor` for the next one (`after`, a case id, still works)",
           schemas=listing(S.CASE_SUMMARY, "next_after", "next"))
@token_required()
def list_cases():
    query = select(cm.Case).where(visible_cases(g.api_user))
    for name in ("lot", "patient_ref", "jurisdiction", "status"):
        if request.args.get(name):
            query = query.where(getattr(cm.Case, name) == request.args[name])
    after = query_int("after")
    if after and not request.args.get("cursor"):
        query = query.where(cm.Case.id > after)
    page = page_of(query, [cm.Case.id], descending=False, limit=query_int("limit", 50, low=1, high=200))
    return jsonify({"items": [case_json(c) for c in page.items],
                    "next_after": page.items[-1].id if page.next else None, "next": page.next})


@bp.post("/cases")
@operation(
    "Open a case (regime, product, lot, patient_ref, site_id, physician_id, oos_detected_at with offset). "
    "Older clients may name the site by treating_site and site_timezone instead of site_id",
    body={"type": "object", "required": ["regime", "product", "lot", "patient_ref", "oos_detected_at"],
          "properties": {**{name: {"type": "string"} for name in ("regime", "product", "lot", "patient_ref", "treating_site",
                                                                "site_timezone")},
                         "site_id": {"type": "integer", "description": "The treating site (GET /api/v1/sites)"},
                         "physician_id": {"type": "integer"}, "oos_detected_at": {"type": "string", "format": "date-time"}}},
    responses={"201": "Created", "400": "Refused", "403": "Role not allowed"}, schemas={"201": S.CASE},
)
@token_required(*CASE_OPENERS)
def create_case():
    body = json_body()
    case = cases.open_case(services(), db(), audit_context(), g.api_user, CaseFacts(
        regime_key=str(body.get("regime", "")), product=str(body.get("product", "")), lot=str(body.get("lot", "")),
        patient_ref=str(body.get("patient_ref", "")), treating_site=str(body.get("treating_site", "")),
        site_timezone=str(body.get("site_timezone", "")),
        site_id=body.get("site_id") if isinstance(body.get("site_id"), int) else None,
        physician_id=body.get("physician_id") if isinstance(body.get("physician_id"), int) else None,
        oos_detected_at=_aware(body, "oos_detected_at")))
    return jsonify(case_json(case, full=True)), 201


@bp.get("/cases/<int:case_id>")
@operation("A case with its checklist (what is missing, who acts next), deadlines and documents",
           schemas={"200": S.CASE})
@token_required()
def get_case(case_id: int):
    return jsonify(case_json(_case_or_404(case_id), full=True))


@bp.post("/cases/<int:case_id>/dates")
@operation(
    "Record a case date (key, value with offset; reason to change one)",
    body={"type": "object", "required": ["key", "value"],
          "properties": {"key": {"type": "string"}, "value": {"type": "string", "format": "date-time"},
                         "reason": {"type": "string"}}},
    responses={"200": "Recorded", "400": "Refused"}, schemas={"200": S.CASE},
)
@token_required()
def record_case_date(case_id: int):
    case = _case_or_404(case_id)
    body = json_body()
    cases.record_date(services(), db(), audit_context(), g.api_user, case, str(body.get("key", "")),
                      _aware(body, "value"), body.get("reason"))
    return jsonify(case_json(case, full=True))


@bp.post("/cases/<int:case_id>/answers")
@operation(
    "Answer one of the regime's questions about the case (key, answer, reason)",
    body={"type": "object", "required": ["key", "answer"],
          "properties": {"key": {"type": "string"}, "answer": {"type": "boolean"}, "reason": {"type": "string"}}},
    responses={"200": "Recorded", "400": "Refused"}, schemas={"200": S.CASE},
)
@token_required()
def answer_case_question(case_id: int):
    case = _case_or_404(case_id)
    body = json_body()
    if not isinstance(body.get("answer"), bool):
        return api_error(400, "invalid_request", "'answer' must be true or false")
    cases.answer_question(services(), db(), audit_context(), g.api_user, case, str(body.get("key", "")),
                          body["answer"], body.get("reason"))
    return jsonify(case_json(case, full=True))



@bp.post("/cases/<int:case_id>/records")
@operation(
    "Attach an existing record written outside any case (same lot and patient, a type the case's regime uses) "
    "to the case, with a reason; the case's checklist then counts it",
    body={"type": "object", "required": ["number", "reason"],
          "properties": {"number": {"type": "string", "description": "The record's document number"},
                         "reason": {"type": "string"}}},
    responses={"200": "Attached: the case with its checklist", "400": "Refused (case_refused): the message says why",
               "404": "No such case"},
    schemas={"200": S.CASE},
)
@token_required()
def attach_case_record(case_id: int):
    case = _case_or_404(case_id)
    body = json_body()
    number = str(body.get("number", "")).strip()
    document = document_by_number(db(), number) if number else None
    if document is None:
        raise CaseError(N_("No record has the number %(number)s."), number=number or "—")
    cases.attach_record(services(), db(), audit_context(), g.api_user, case, document, str(body.get("reason", "")))
    return jsonify(case_json(case, full=True))


@bp.get("/cases/<int:case_id>/requirements/<type_key>")
@operation(
    "What the case's regime requires of a record of this type, field by field, before anyone signs it: the "
    "values needed (an outcome is a decision: shown, never pre-filled), the value a new record starts with, and "
    "the record types each reference field accepts in this case",
    responses={"200": "OK", "404": "No such case or document type"}, schemas={"200": S.CASE_REQUIREMENTS},
)
@token_required()
def case_requirements(case_id: int, type_key: str):
    case = _case_or_404(case_id)
    types = services().document_types
    if type_key not in types:
        abort(404, description=f"No document type '{type_key}'.")
    requirements = requirements_in_case(db(), case, type_key, types=types, regimes=services().regimes)
    wide = type_in_case(types[type_key], case, types=types, regimes=services().regimes)
    return jsonify({
        "case": case.reference, "type": type_key,
        "requirements": [{
            "field": r.field.name, "label": {"en": r.field.label.en, "ja": r.field.label.ja},
            "needed": list(r.needed), "outcome": r.outcome, "text": {"en": r.text.en, "ja": r.text.ja},
            "prefill": r.prefill,
        } for r in requirements],
        "accepted_references": {f.name: list(f.ref_types) for f in wide.fields if f.type == "document_refs"},
    })
