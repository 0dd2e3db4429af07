"""Sign-in, sign-out and password change."""
from __future__ import annotations

import secrets
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user

from edms.application import access
from edms.users.errors import AccountError
from edms.web import throttle
from edms.web.forms import ChangePasswordForm, LoginForm
from edms.web.i18n import translate_error
from edms.web.runtime import audit_context, db, services
from edms.web.session_user import SessionUser

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    # Only same-site relative paths: never an open redirect.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("main.home")


THROTTLED = _l("Too many failed sign-ins with this user name or from your network. Wait a few minutes, then try "
               "again. If you have forgotten your password, ask an administrator to reset it.")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        if throttle.refuse(form.username.data, channel="web"):  # per user name and per client; audited
            return render_template("auth/login.html", form=form, throttled=THROTTLED), 429
        result = access.sign_in(services(), db(), audit_context(), form.username.data, form.password.data)
        if result.ok:
            # A language picked on the sign-in page is the person's choice: it becomes their setting (audited);
            # otherwise the pages follow the setting they already have.
            picked = session.get("lang") if session.get("lang_picked") else None
            previous = session.get("sid")
            session.clear()  # no state carried over from before sign-in (session fixation)
            login_user(SessionUser(result.user))
            # A fresh id per signed-in session: the signing ceremony asks for both components once per session.
            # Its record on the server (only its hash) is what every node checks at each request.
            session["sid"] = secrets.token_hex(16)
            access.start_session(services(), db(), audit_context(), result.user, session["sid"],
                                 user_agent=request.user_agent.string, replaces=previous)
            session["epoch"] = result.user.session_epoch  # the session ends when the account's epoch moves on
            session["last_seen"] = datetime.now(UTC).timestamp()
            if picked and picked != result.user.language:
                access.set_own_language(services(), db(), audit_context(), result.user, picked)
            return redirect(_safe_next(request.args.get("next")))
        throttle.failed(form.username.data)
        flash(_(result.message), "error")
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    access.sign_out(services(), db(), audit_context(), current_user.user)
    lang = current_user.user.language  # the sign-in page stays in the language the person reads
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if form.new_password.data != form.confirm_password.data:
            flash(_("The two new passwords differ."), "error")
        else:
            try:
                access.change_own_password(services(), db(), audit_context(), current_user.user,
                                           form.current_password.data, form.new_password.data,
                                           keep=session.get("sid"))
            except AccountError as exc:
                flash(translate_error(exc), "error")  # a wrong current password stays audited
            else:
                # Every session of the person ended with the change; this one continues under the new epoch.
                session["epoch"] = current_user.user.session_epoch
                flash(_("Your password has been changed."), "success")
                return redirect(url_for("main.home"))
    return render_template("auth/change_password.html", form=form, forced=current_user.user.must_change_password)
