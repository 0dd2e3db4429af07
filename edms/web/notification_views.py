"""My notifications: what edms told the signed-in person, newest first (e-mailed or only recorded)."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from edms.notifications.models import KIND_LABELS, STATUS_LABELS
from edms.notifications.outbox import notifications_for
from edms.web.runtime import db
from edms.workflow.visibility import can_see_case

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.get("/")
@login_required
def mine():
    rows = [row for row in notifications_for(db(), current_user.id)
            if can_see_case(db(), current_user.user, row.case_id)]  # not of a case they have left the site of
    return render_template("notifications/mine.html", notifications=rows,
                           kinds=KIND_LABELS, statuses=STATUS_LABELS)
