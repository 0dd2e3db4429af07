"""Active sessions (administrators): who is signed in, since when, last seen, from which client; ending one
session with a reason (audited; the person is signed out at their next request, whichever node answers)."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from edms.application import access
from edms.timeutil import utc_now
from edms.users.errors import AccountError
from edms.users.models import WebSession
from edms.users.roles import ADMIN
from edms.users.session_records import active_sessions
from edms.web.forms import ReasonForm
from edms.web.guards import roles_required
from edms.web.live_sessions import current_web_session
from edms.web.runtime import audit_context, db, services, settings

bp = Blueprint("sessions", __name__, url_prefix="/admin/sessions")


@bp.get("")
@roles_required(ADMIN)
def index():
    rows = active_sessions(db(), utc_now(), timedelta(minutes=settings().idle_minutes))
    mine = current_web_session()
    return render_template("admin/sessions.html", rows=rows, form=ReasonForm(), mine=mine.id if mine else None,
                           idle_minutes=f"{settings().idle_minutes:g}")


@bp.post("/<int:session_id>/end")
@roles_required(ADMIN)
def end(session_id: int):
    web_session = db().get(WebSession, session_id)
    if web_session is None:
        abort(404)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("Give the reason for ending the session."), "error")
        return redirect(url_for("sessions.index"))
    try:
        ended = access.end_session(services(), db(), audit_context(), web_session, (form.reason.data or "").strip())
    except AccountError as exc:
        flash(_(exc.message, **exc.params), "error")  # refused as a missing reason is: back to the list
        return redirect(url_for("sessions.index"))
    if ended:
        flash(_("The session of %(name)s has ended; they are signed out at their next request.",
                name=web_session.user.printed_name), "success")
    else:
        flash(_("That session had already ended."), "info")
    return redirect(url_for("sessions.index"))
