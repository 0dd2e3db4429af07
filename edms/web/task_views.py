"""My tasks: what the signed-in person must sign, revise or create next."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import get_locale
from flask_login import current_user

from edms.application.tasks import INBOX_CASES, Task, tasks_for
from edms.timeutil import utc_now
from edms.users.roles import CONTENT_ROLES
from edms.web.guards import roles_required
from edms.web.runtime import db, services

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


def current_tasks() -> list[Task]:
    return tasks_for(db(), current_user.user, document_types=services().document_types,
                     regimes=services().regimes, now=utc_now(), case_limit=INBOX_CASES)


@bp.get("/")
@roles_required(*CONTENT_ROLES)
def index():
    return render_template("tasks/index.html", tasks=current_tasks(), types=services().document_types,
                           language=str(get_locale() or "en"))
