"""The signed-in user's task inbox over the API: the same list as the Tasks page."""
from __future__ import annotations

from flask import g, jsonify

from edms.api import schemas as S
from edms.api.blueprint import bp, token_required
from edms.api.openapi import listing, operation
from edms.application.tasks import INBOX_CASES, Task, tasks_for
from edms.timeutil import isoformat_utc, utc_now
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


@bp.get("/tasks")
@operation("The caller's tasks, most urgent first: versions to sign (kind sign), own drafts and "
           "refused records to revise (draft), records an open case still needs from the caller's roles (case); "
           "records to create of the 50 cases with the most pressing deadlines, signatures of the 50 versions in "
           "review waiting longest and the 50 newest own drafts",
           schemas=listing(S.TASK))
@token_required()
def list_tasks():
    tasks = tasks_for(db(), g.api_user, document_types=services().document_types, regimes=services().regimes,
                      now=utc_now(), case_limit=INBOX_CASES)
    return jsonify({"items": [task_json(task) for task in tasks]})

