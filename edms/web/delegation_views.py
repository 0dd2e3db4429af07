"""Delegations: a person (or an administrator, for someone absent) hands their named signing steps to
another holder of the same role for a period; either may end it early with a reason."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from edms.application import delegations
from edms.application.reauthentication import ReauthenticationRefused
from edms.timeutil import parse_local, utc_now
from edms.users.models import User
from edms.users.roles import ADMIN, CONTENT_ROLES
from edms.web.bounds import db_int
from edms.web.guards import roles_required
from edms.web.i18n import translate_error
from edms.web.runtime import audit_context, db, services
from edms.workflow import delegations as ops
from edms.workflow.models import Delegation

bp = Blueprint("delegations", __name__, url_prefix="/delegations")


def _people() -> list[User]:
    return [u for u in db().scalars(select(User).where(User.active.is_(True)).order_by(User.printed_name))
            if u.has_role(*CONTENT_ROLES)]


@bp.route("/", methods=["GET", "POST"])
@roles_required(*CONTENT_ROLES, ADMIN)
def index():
    form = FlaskForm()
    me = current_user.user
    is_admin = me.has_role(ADMIN)
    status = 200
    if request.method == "POST" and form.validate_on_submit():
        session = db()
        delegator = session.get(User, request.form.get("delegator_id", type=db_int) or 0) if is_admin else me
        delegate_to = session.get(User, request.form.get("delegate_id", type=db_int) or 0)
        # Entered in the person's own zone, as the form says.
        starts = parse_local(request.form.get("starts_at", ""), me.timezone)
        ends = parse_local(request.form.get("ends_at", ""), me.timezone)
        if delegator is None or delegate_to is None or starts is None or ends is None:
            flash(_("Choose both people and give the start and the end of the delegation."), "error")
            status = 400
        else:
            try:
                delegations.delegate(services(), session, audit_context(), me, delegator=delegator,
                                     delegate_to=delegate_to, role=request.form.get("role", ""), starts_at=starts,
                                     ends_at=ends, reason=request.form.get("reason", ""),
                                     password=request.form.get("password", ""))
            except (ops.DelegationError, ReauthenticationRefused) as exc:
                flash(translate_error(exc), "error")
                status = 400
            else:
                flash(_("Delegation recorded: %(person)s may sign your named steps in that period.",
                        person=delegate_to.printed_name), "success")
                return redirect(url_for("delegations.index"))
    elif request.method == "POST":
        status = 400
    rows = ops.every(db()) if is_admin else ops.involving(db(), me.id)
    names = {u.id: u for u in db().scalars(select(User))}
    return render_template("delegations/index.html", form=form, rows=rows, names=names, people=_people(),
                           roles=sorted(me.roles & CONTENT_ROLES) if not is_admin else sorted(CONTENT_ROLES),
                           is_admin=is_admin, values=request.form, now=utc_now()), status


@bp.post("/<int:delegation_id>/revoke")
@roles_required(*CONTENT_ROLES, ADMIN)
def revoke(delegation_id: int):
    form = FlaskForm()
    row = db().get(Delegation, delegation_id)
    if row is None:
        abort(404)
    if not form.validate_on_submit():
        abort(400)
    try:
        delegations.revoke(services(), db(), audit_context(), current_user.user, row, request.form.get("reason", ""))
    except ops.DelegationError as exc:
        flash(translate_error(exc), "error")
    else:
        flash(_("The delegation has ended."), "success")
    return redirect(url_for("delegations.index"))
