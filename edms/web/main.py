"""Home page and language switch."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from edms.application import access
from edms.audit.models import AuditEvent
from edms.inspection.labels import event_names
from edms.timeutil import utc_now
from edms.users.roles import CONTENT_ROLES
from edms.web.forms import LanguageForm
from edms.web.i18n import LANGUAGES
from edms.web.labels import page_labels
from edms.web.runtime import audit_context, db, services
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
    return render_template("home.html", alerts=alerts, tasks=tasks, labels=page_labels(event_names(db(), alerts)))


@bp.post("/language")
def set_language():
    """The switch in the header: before sign-in it holds for this browser session; signed in, it is the
    person's own setting (the same as on their settings page), audited and kept across sign-ins."""
    form = LanguageForm()
    if form.validate_on_submit():
        if current_user.is_authenticated:
            access.set_own_language(services(), db(), audit_context(), current_user.user, form.language.data)
        else:
            session["lang_picked"] = True
        session["lang"] = form.language.data
    target = request.referrer or url_for("main.home")
    if not target.startswith(request.host_url):
        target = url_for("main.home")
    return redirect(target)


@bp.route("/account/settings", methods=["GET", "POST"])
@login_required
def settings_page():
    """A person's own settings: the language of their pages, notifications and e-mails."""
    form = LanguageForm()
    if request.method == "POST":
        if form.validate_on_submit():
            access.set_own_language(services(), db(), audit_context(), current_user.user, form.language.data)
            session["lang"] = form.language.data
            flash(_("Your language is now %(language)s.", language=LANGUAGES[form.language.data]), "success")
            return redirect(url_for("main.settings_page"))
    else:
        form.language.data = current_user.user.language
    return render_template("auth/settings.html", form=form)
