"""Home page and language switch."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from edms.audit.models import AuditEvent
from edms.timeutil import utc_now
from edms.users.roles import CONTENT_ROLES
from edms.web.forms import LanguageForm
from edms.web.runtime import db
from edms.web.task_views import current_tasks

bp = Blueprint("main", __name__)

SECURITY_ALERT_ACTIONS = ("auth.locked", "auth.failed")


@bp.get("/")
@login_required
def home():
    alerts = []
    if current_user.is_admin:
        # Unauthorised attempts are reported to administrators where they look first (11.300(d)).
        since = utc_now() - timedelta(days=1)
        alerts = db().scalars(
            select(AuditEvent)
            .where(AuditEvent.action.in_(SECURITY_ALERT_ACTIONS), AuditEvent.occurred_at >= since)
            .order_by(AuditEvent.seq.desc())
            .limit(50)
        ).all()
    # Work waiting: a record whose prerequisites are not approved yet is not counted (issue 12).
    tasks = [t for t in current_tasks() if not t.waiting] if current_user.has_role(*CONTENT_ROLES) else None
    return render_template("home.html", alerts=alerts, tasks=tasks)


@bp.post("/language")
def set_language():
    form = LanguageForm()
    if form.validate_on_submit():
        session["lang"] = form.language.data
    target = request.referrer or url_for("main.home")
    if not target.startswith(request.host_url):
        target = url_for("main.home")
    return redirect(target)
