"""The signed-in user's task inbox over the API: the same list as the Tasks page."""
from __future__ import annotations

from flask import abort, g, jsonify, request

from edms.api import schemas as S
from edms.api.blueprint import bp, token_required
from edms.api.openapi import listing, operation
from edms.application.tasks import Task, inbox_page
from edms.paging import BadCursor
from edms.timeutil import isoformat_utc, utc_now
from edms.web.paging import MAX_PAGE, PAGE_SIZE, page_size
from edms.web.runtime import db, services


def task_json(task: Task) -> dict:
    return {
        "kind": task.kind, "title": task.title, "type": task.type_key, "document_id": task.document_id,
        "document_number": task.document_number, "version": task.version, "status": task.status,
        "case_id": task.case_id, "case_reference": task.case_reference,
        "step": task.step.en if task.step else None, "step_name": task.step_name, "role": task.role,
        "on_behalf_of": task.on_behalf_of,
        "waiting": task.waiting, "waiting_for": [{"en": text.en, "ja": text.ja} for text in task.waiting_for],
        "due_at": isoformat_utc(task.due_at) if task.due_at else None, "overdue": task.overdue,
    }


PAGE_PARAMETERS = [
    {"name": "cursor", "in": "query", "schema": {"type": "string"},
     "description": "the `next` of the previous page (opaque); the first page without it"},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
     "description": f"cases, versions to sign and own drafts read per page, each (default {PAGE_SIZE})"},
]


@bp.get("/tasks")
@operation("The caller's tasks, most urgent first: versions to sign (kind sign), own drafts and "
           "refused records to revise (draft), records an open case still needs from the caller's roles (case); "
           "keyset-paginated (`next`, `cursor`): each page holds the records to create of the next `limit` cases "
           "by their most pressing deadline, the signatures of the next `limit` versions in review waiting longest "
           "and the next `limit` own drafts, newest first, so a page may hold fewer tasks than `limit`, even none, "
           "and still have a `next`",
           schemas=listing(S.TASK, "next"), parameters=PAGE_PARAMETERS)
@token_required()
def list_tasks():
    size = page_size()
    try:
        page = inbox_page(db(), g.api_user, document_types=services().document_types, regimes=services().regimes,
                          now=utc_now(), cursor=request.args.get("cursor") or None, limit=size)
    except BadCursor as exc:
        abort(400, description=f"'cursor': {exc}; start again from the first page.")
    return jsonify({"items": [task_json(task) for task in page.items], "next": page.next})
