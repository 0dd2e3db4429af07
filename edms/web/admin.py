"""Account administration: create, edit, roles, deactivate, unlock, reset (21 CFR 11.10(d),(g); Annex 11 §12);
backup; the notifications outbox."""
from __future__ import annotations

import tempfile

from flask import Blueprint, abort, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from edms.application import accounts, backups
from edms.application import jobs as job_use_cases
from edms.application.job_kinds import DELIVER_OUTBOX
from edms.notifications import outbox as notifications
from edms.notifications.models import KIND_LABELS, STATUS_LABELS, Notification
from edms.timeutil import utc_now
from edms.users.errors import AccountError
from edms.users.models import User
from edms.users.profiles import Profile
from edms.users.roles import ADMIN
from edms.web.forms import CreateUserForm, EditUserForm, ReactivateForm, ReasonForm, ResetPasswordForm, RolesForm
from edms.web.guards import roles_required
from edms.web.i18n import translate_error
from edms.web.paging import next_page_args, page_of
from edms.web.runtime import audit_context, db, services, settings

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _utc(value):
    return value.replace(tzinfo=utc_now().tzinfo) if value is not None else None


def _profile(form) -> Profile:
    return Profile(
        printed_name=form.printed_name.data or "",
        title=form.title.data or "",
        email=form.email.data or "",
        timezone=form.timezone.data,
        language=form.language.data,
        access_expires_at=_utc(form.access_expires_at.data),
    )


def _user_or_404(user_id: int) -> User:
    user = db().get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.get("/users")
@roles_required(ADMIN)
def users():
    page = page_of(select(User), [User.username, User.id], descending=False)
    return render_template("admin/users.html", users=page.items, next_page=next_page_args(page))


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(ADMIN)
def create_user():
    form = CreateUserForm()
    if form.validate_on_submit():
        try:
            user = accounts.create_account(
                services(), db(), audit_context(), username=form.username.data, profile=_profile(form),
                roles=set(form.roles.data), password=form.password.data, must_change_password=True,
            )
        except AccountError as exc:
            flash(translate_error(exc), "error")
        else:
            flash(_("Account %(name)s created. The person must change the password at first sign-in.",
                    name=user.username), "success")
            return redirect(url_for("admin.user_detail", user_id=user.id))
    return render_template("admin/user_new.html", form=form)


@bp.get("/users/<int:user_id>")
@roles_required(ADMIN)
def user_detail(user_id: int):
    user = _user_or_404(user_id)
    edit = EditUserForm(obj=user, access_expires_at=user.access_expires_at)
    roles = RolesForm(roles=sorted(user.roles))
    return render_template(
        "admin/user_detail.html", user=user, edit=edit, roles_form=roles,
        reason_form=ReasonForm(), reset_form=ResetPasswordForm(), reactivate_form=ReactivateForm(),
    )


def _apply(user_id: int, form, action):
    user = _user_or_404(user_id)
    if form.validate_on_submit():
        try:
            action(user, form)
        except AccountError as exc:
            flash(translate_error(exc), "error")
        else:
            flash(_("Saved."), "success")
    elif "your_password" in form.errors and "reason" not in form.errors:
        flash(_("Enter your password to confirm this change."), "error")
    else:
        flash(_("A reason is required for this change."), "error")
    return redirect(url_for("admin.user_detail", user_id=user_id))


@bp.post("/users/<int:user_id>/edit")
@roles_required(ADMIN)
def edit_user(user_id: int):
    return _apply(user_id, EditUserForm(), lambda u, f: accounts.update_profile(
        services(), db(), audit_context(), u, _profile(f), f.reason.data))


@bp.post("/users/<int:user_id>/roles")
@roles_required(ADMIN)
def set_roles(user_id: int):
    return _apply(user_id, RolesForm(), lambda u, f: accounts.set_roles(
        services(), db(), audit_context(), u, set(f.roles.data), f.reason.data, actor=current_user.user,
        password=f.your_password.data))


@bp.post("/users/<int:user_id>/deactivate")
@roles_required(ADMIN)
def deactivate(user_id: int):
    return _apply(user_id, ReasonForm(), lambda u, f: accounts.deactivate(
        services(), db(), audit_context(), u, f.reason.data))


@bp.post("/users/<int:user_id>/unlock")
@roles_required(ADMIN)
def unlock(user_id: int):
    return _apply(user_id, ReasonForm(), lambda u, f: accounts.unlock(
        services(), db(), audit_context(), u, f.reason.data))


@bp.post("/users/<int:user_id>/password")
@roles_required(ADMIN)
def reset_password(user_id: int):
    return _apply(
        user_id, ResetPasswordForm(),
        lambda u, f: accounts.reset_password(services(), db(), audit_context(), u, f.password.data, f.reason.data,
                                             actor=current_user.user, actor_password=f.your_password.data),
    )


@bp.route("/backup", methods=["GET", "POST"])
@roles_required(ADMIN)
def backup():
    """Administrators download a complete backup (tables, stored files, PKI); the act is audited first."""
    form = ReasonForm()
    if form.validate_on_submit():
        spool = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)
        backups.back_up(services(), db(), audit_context(), spool, reason=form.reason.data)
        spool.seek(0)
        name = f"edms-backup-{utc_now():%Y%m%dT%H%M%SZ}.zip"
        return send_file(spool, mimetype="application/zip", as_attachment=True, download_name=name)
    return render_template("admin/backup.html", form=form)


@bp.get("/outbox")
@roles_required(ADMIN)
def outbox():
    """Every notification with its delivery status (subjects only: the bodies are for their recipients)."""
    session = db()
    page = page_of(select(Notification), notifications.NEWEST_FIRST)
    return render_template("admin/outbox.html", notifications=page.items,
                           counts=notifications.status_counts(session), smtp=settings().smtp,
                           kinds=KIND_LABELS, statuses=STATUS_LABELS, next_page=next_page_args(page))


@bp.post("/outbox/deliver")
@roles_required(ADMIN)
def deliver_outbox():
    """Delivery is a job (the worker sends): its page shows what was sent."""
    job = job_use_cases.request_now(services(), db(), audit_context(), current_user.user, DELIVER_OUTBOX)
    if job is None:
        flash(_("A delivery is already waiting or running: it sends what is waiting."), "info")
        return redirect(url_for("jobs.index"))
    return redirect(url_for("jobs.detail", job_id=job.id))
