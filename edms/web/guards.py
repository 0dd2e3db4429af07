"""Request guards: request ids, idle timeout, forced password change, read-only roles, headers."""
from __future__ import annotations

import random
import secrets
from datetime import UTC, datetime, timedelta
from functools import wraps

from flask import flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from edms.application import access
from edms.users.queries import password_expired
from edms.users.session_records import TOUCH_INTERVAL
from edms.web.live_sessions import current_reader, current_web_session
from edms.web.refusals import needs_roles, refuse
from edms.web.runtime import audit_context, db, services, settings

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# What a person may still reach before changing an expired or administrator-set password.
PASSWORD_CHANGE_ALLOWED = {"auth.change_password", "auth.logout", "main.set_language", "static"}
# Exporting an inspection package writes its audit event and a checkpoint, so it is a POST (state changes
# never happen on GET); inspectors may make it: it records what they take away, and changes no record.
PACKAGE_EXPORTS = frozenset({"inspection.export_document", "inspection.export_case",
                             "api.export_document", "api.export_case"})
# Writes that read-only accounts may still make: they only concern their own session, or record an export.
READ_ONLY_ALLOWED_WRITES = {"auth.logout", "auth.change_password", "main.set_language", "main.settings_page",
                            "auth.login"} | PACKAGE_EXPORTS

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


_IDS = random.Random(secrets.randbits(128))  # one generator per process, seeded by the system's randomness


def assign_request_id() -> None:
    """A request id: 128 random bits as 32 hex digits (the form of a uuid4's hex), which ties together the
    audit events and log lines of one request. It names, it protects nothing, so it comes from the process's
    seeded generator rather than a system call per request (`uuid4` reads the kernel's randomness, and each
    such call hands the interpreter lock to another thread)."""
    g.request_id = f"{_IDS.getrandbits(128):032x}"


def cookie_slack(idle: timedelta) -> timedelta:
    """How far the cookie's `last_seen` may lag behind the session's last request: it is written again only once
    it is this old (a minute, as the server's record; a fifteenth of the idle time when that is shorter than a
    quarter of an hour), so most pages leave the session as they found it and send no cookie (no signing)."""
    return min(TOUCH_INTERVAL, idle / 15)


def enforce_idle_timeout():
    """End the session after `idle_minutes` without a request (21 CFR 11.10(d), 11.300). Both clocks of the last
    request are written at most once per slack (the cookie's `cookie_slack`, the server record's TOUCH_INTERVAL),
    so each may lag by that much and each check allows it: a session idle for `idle_minutes` ends at its next
    request once the lag is past too, never earlier than `idle_minutes` after the last request (with the default
    15 minutes, between 15 and 16)."""
    if not current_user.is_authenticated or request.endpoint == "static":
        return None
    now = datetime.now(UTC)
    # Idle by the cookie's last request (every node writes it), or by the server's record of the session.
    reader = current_reader()
    record_seen = reader.session_last_seen_at if reader is not None else None
    last_seen = session.get("last_seen")
    idle = timedelta(minutes=settings().idle_minutes)
    slack = cookie_slack(idle)
    cookie_idle = None if last_seen is None else now - datetime.fromtimestamp(last_seen, UTC)
    if (cookie_idle is not None and cookie_idle > idle + slack) or \
            (record_seen is not None and now - record_seen > idle + TOUCH_INTERVAL):
        access.time_out(services(), db(), audit_context(), current_user.user, session.get("sid"))
        logout_user()
        session.clear()
        flash(_("Your session ended after a period of inactivity. Please sign in again."), "warning")
        return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
    if cookie_idle is None or cookie_idle >= slack:
        session["last_seen"] = now.timestamp()
    if record_seen is not None and now - record_seen > TOUCH_INTERVAL:
        record = current_web_session()  # the ORM record, loaded only to be written (at most once a minute)
        if record is not None:
            access.touch_session(services(), db(), record)
    return None


def enforce_password_change():
    if not current_user.is_authenticated or request.endpoint in PASSWORD_CHANGE_ALLOWED:
        return None
    reader = current_user  # the reader row: no ORM object needed to decide
    if reader.must_change_password or password_expired(settings().password, reader):
        return redirect(url_for("auth.change_password"))
    return None


def enforce_read_only_roles():
    """Inspectors cannot change anything: every write route refuses them, whatever the page shows."""
    if request.method in SAFE_METHODS or request.endpoint in READ_ONLY_ALLOWED_WRITES:
        return None
    if current_user.is_authenticated and current_user.is_inspector:
        refuse("inspector accounts are read-only")
    return None


def security_headers(response):
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    if settings().secure_cookies:
        response.headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    return response


def roles_required(*roles: str):
    """Only holders of one of `roles` reach the view (11.10(g)); others get 403."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return redirect(url_for("auth.login", next=request.full_path))
            if not current_user.has_role(*roles):
                refuse(needs_roles(roles))
            return view(*args, **kwargs)

        return wrapped

    return decorator
