"""Inspector access and access periods, as request hooks.

`record_inspector_access` runs after each request: a successful GET (or package export) by an inspector (signed in, or with an
inspector's bearer token) is recorded (edms.inspection.access_log) in the request's unit of work, which
commits after it: if the event cannot be written the response fails, so an inspection is never unrecorded.
The record and the reads are one transaction: on SQLite the page is read without the write lock and the
record's use case takes the lock in that same transaction (edms.application.unit_of_work.writes_ahead); when
another writer committed since the page was read, the request runs again, the second time with the lock
taken first (edms.web.runtime.dispatch_with_reruns), and only that run is answered and recorded. An inspector's
next reads take the write turn at once (edms.application.write_turn: several reads share one transaction, each in
its own SAVEPOINT, one COMMIT and one witness head for all).
`end_expired_sessions` ends a signed-in session as soon as the account's access period (set by an
administrator) is over, not only at the next sign-in.
"""
from __future__ import annotations

import hashlib
import re

from flask import flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from edms.application import access, inspection
from edms.inspection.access_log import Access
from edms.timeutil import utc_now
from edms.users.roles import INSPECTOR
from edms.web.guards import PACKAGE_EXPORTS
from edms.web.runtime import audit_context, db, remember_writing_reader, services

_FILENAME = re.compile(r"""filename\*=UTF-8''([^;]+)|filename="([^"]+)\"""")


def _inspector():
    user = g.get("api_user") or (current_user if current_user.is_authenticated else None)
    return user if user is not None and user.has_role(INSPECTOR) else None


def _file(response) -> dict[str, object] | None:
    disposition = response.headers.get("Content-Disposition", "")
    if not disposition.startswith("attachment"):
        return None
    match = _FILENAME.search(disposition)
    described: dict[str, object] = {"name": (match.group(1) or match.group(2)) if match else None,
                                     "media_type": response.mimetype}
    if not response.is_streamed:
        data = response.get_data()
        described.update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    return described


def record_inspector_access(response):
    if request.method != "GET" and request.endpoint not in PACKAGE_EXPORTS:
        return response
    if response.status_code != 200 or request.endpoint in (None, "static"):
        return response
    if _inspector() is None:
        return response
    inspection.record_access(services(), db(), audit_context(), Access(
        path=request.full_path.rstrip("?"), endpoint=request.endpoint or request.path,
        view_args=dict(request.view_args or {}), file=_file(response)))
    remember_writing_reader()  # its next reads take the write turn at once (edms.web.runtime.db)
    return response


def end_expired_sessions():
    """An account whose access period ended is signed out at its next request (21 CFR 11.10(d))."""
    if not current_user.is_authenticated:
        return None
    expires = current_user.access_expires_at
    if expires is None or expires > utc_now():
        return None
    access.access_expired(services(), db(), audit_context(), current_user.user, session.get("sid"))
    logout_user()
    session.clear()
    flash(_("Your access period has ended. Ask an administrator if you need access again."), "warning")
    return redirect(url_for("auth.login"))
