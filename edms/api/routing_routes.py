"""Routing over the API: a refused submission explains itself, a version says whether it can still be
completed, and administrators list every stuck record with what would unblock it."""
from __future__ import annotations

from flask import abort, jsonify, request

from edms.api import schemas as S
from edms.api.blueprint import bp, token_required
from edms.api.openapi import listing, operation
from edms.application.routing_health import StuckRecord, completability, stuck_page
from edms.definitions import LocalizedText
from edms.documents.queries import get_document
from edms.paging import BadCursor
from edms.timeutil import isoformat_utc, utc_now
from edms.users.roles import ADMIN
from edms.web.errors import api_error
from edms.web.paging import page_size
from edms.web.runtime import db, services
from edms.workflow.completability import BlockedStep
from edms.workflow.refusals import SubmissionRefused


def _text(text: LocalizedText) -> dict[str, str]:
    return {"en": text.en, "ja": text.ja}


def blocked_json(blocked: BlockedStep) -> dict:
    return {
        "step": blocked.step.name, "step_label": _text(blocked.step.label), "remaining": blocked.remaining,
        "missing": _text(blocked.missing.text),
        "people": [{"user_id": o.user_id or None, "printed_name": o.printed_name or None,
                    "reasons": [r.code for r in o.reasons],
                    "explanation": _text(LocalizedText("; ".join(r.text.en for r in o.reasons),
                                                       "、".join(r.text.ja for r in o.reasons)))}
                   for o in blocked.obstacles],
        "advice": [{"code": a.code, "text": _text(a.text)} for a in blocked.advice],
    }


@bp.errorhandler(SubmissionRefused)
def submission_refused(exc: SubmissionRefused):
    """409 not_completable: the details name the blocked step, who cannot sign it and why, and the advice."""
    return api_error(409, exc.code, str(exc), blocked_json(exc.blocked))


def _stuck_json(item: StuckRecord) -> dict:
    return {"document_id": item.document_id, "number": item.number, "title": item.title, "type": item.type_key,
            "version": item.version, "owner_id": item.owner_id, "owner": item.owner_name, "case_id": item.case_id,
            "case_reference": item.case_reference, "submitted_at": isoformat_utc(item.since),
            "blocked": blocked_json(item.blocked)}


@bp.get("/stuck-records")
@operation("Administrators: the versions in review that nobody active and ready now could complete, oldest "
           "first, with the blocked step, who cannot sign it and why, and what would unblock it; keyset-paginated "
           "over the versions in review (`next`, `cursor`, `limit` versions examined per page): a page may hold "
           "fewer stuck records than `limit`, even none, and still have a `next`",
           schemas=listing(S.STUCK_RECORD, "next"))
@token_required(ADMIN)
def list_stuck_records():
    size = page_size()
    try:
        page = stuck_page(services(), db(), now=utc_now(), cursor=request.args.get("cursor") or None, limit=size)
    except BadCursor as exc:
        abort(400, description=f"'cursor': {exc}; start again from the first page.")
    return jsonify({"items": [_stuck_json(item) for item in page.items], "next": page.next})


@bp.get("/documents/<int:document_id>/completability")
@operation("Whether the document's version in review can still be completed by the people active and ready now; "
           "if not, the blocked step and what would unblock it",
           responses={"200": "OK", "404": "No such document"}, schemas={"200": S.COMPLETABILITY})
@token_required()
def document_completability(document_id: int):
    document = get_document(db(), document_id)
    if document is None:
        abort(404, description=f"No document #{document_id}.")
    result = completability(services(), db(), document, now=utc_now())
    return jsonify({"document_id": document.id, "version": document.latest.version if document.latest else None,
                    "in_review": result is not None, "completable": result is None or result.completable,
                    "blocked": blocked_json(result.blocked) if result is not None and result.blocked else None})
