"""My tasks: what the signed-in person must sign, revise or create next."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_babel import get_locale
from flask_login import current_user

from edms.application.tasks import INBOX_CASES, Task, inbox_page, tasks_for
from edms.paging import BadCursor
from edms.timeutil import utc_now
from edms.users.roles import CONTENT_ROLES
from edms.web.guards import roles_required
from edms.web.paging import next_page_args, page_size
from edms.web.runtime import db, services

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


def current_tasks() -> list[Task]:
    """The inbox's first page (the home page counts its work waiting)."""
    return tasks_for(db(), current_user.user, document_types=services().document_types,
                     regimes=services().regimes, now=utc_now(), case_limit=INBOX_CASES)


@bp.get("/")
@roles_required(*CONTENT_ROLES)
def index():
    """A page of the inbox (edms.application.tasks.inbox_page): `cursor` from the previous page's link."""
    try:
        page = inbox_page(db(), current_user.user, document_types=services().document_types,
                          regimes=services().regimes, now=utc_now(), cursor=request.args.get("cursor") or None,
                          limit=page_size())
    except BadCursor as exc:
        abort(400, f"'cursor': {exc}; start again from the first page.")
    return render_template("tasks/index.html", tasks=page.items, types=services().document_types,
                           language=str(get_locale() or "en"), next_page=next_page_args(page))
