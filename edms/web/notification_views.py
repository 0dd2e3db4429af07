"""My notifications: what edms told the signed-in person, newest first (e-mailed or only recorded)."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from edms.inspection.labels import object_names
from edms.notifications.models import KIND_LABELS, STATUS_LABELS
from edms.notifications.outbox import NEWEST_FIRST, notifications_of
from edms.web.labels import page_labels
from edms.web.paging import next_page_args, page_of
from edms.web.runtime import db
from edms.workflow.visibility import can_see_case

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.get("/")
@login_required
def mine():
    page = page_of(notifications_of(current_user.id), NEWEST_FIRST)
    notifications = [row for row in page.items
                     if can_see_case(db(), current_user.user, row.case_id)]  # not of a case they have left the site of
    names = object_names(db(), [("case", n.case_id) for n in notifications])  # cases by their reference
    return render_template("notifications/mine.html", notifications=notifications, kinds=KIND_LABELS,
                           statuses=STATUS_LABELS, labels=page_labels(names),
                           next_page=next_page_args(page))
