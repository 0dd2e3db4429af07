"""Who looked at what, when: every page and file an inspector opens goes into the audit trail.

`record_inspector_access` runs after each request: a successful GET by an inspector (signed in, or with an
inspector's bearer token) becomes `inspection.viewed`, or `inspection.downloaded` for a file, naming the
record (document and version, case, signature) where the URL names one, the path, and for a file its
name, size and SHA-256. If the event cannot be written the response fails: an inspection is never
unrecorded. `end_expired_sessions` ends a signed-in session as soon as the account's access period
(set by an administrator) is over, not only at the next sign-in.
"""
from __future__ import annotations

import hashlib
import re

from flask import flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from edms.audit import record
from edms.documents.models import Document
from edms.timeutil import utc_now
from edms.users.roles import INSPECTOR
from edms.web.runtime import audit_context, db

VIEWED = "inspection.viewed"
DOWNLOADED = "inspection.downloaded"
_FILENAME = re.compile(r"""filename\*=UTF-8''([^;]+)|filename="([^"]+)\"""")
MAX_OBJECT_ID = 80  # the audit_event.object_id column


def _inspector():
    user = g.get("api_user") or (current_user.user if current_user.is_authenticated else None)
    return user if user is not None and user.has_role(INSPECTOR) else None


def _subject(session) -> tuple[str, str | None, int | None, str | None]:
    """(object_type, object_id, document_version, case_id) of the record the URL names."""
    args = request.view_args or {}
    if "document_id" in args:
        document = session.get(Document, args["document_id"])
        case_id = document.case_id if document is not None else None
        return "document", str(args["document_id"]), args.get("number"), None if case_id is None else str(case_id)
    if "case_id" in args:
        return "case", str(args["case_id"]), None, str(args["case_id"])
    if "signature_id" in args:
        return "signature", str(args["signature_id"]), None, None
    return "page", (request.endpoint or request.path)[:MAX_OBJECT_ID], None, None


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
    if request.method != "GET" or response.status_code != 200 or request.endpoint in (None, "static"):
        return response
    if _inspector() is None:
        return response
    session = db()
    session.rollback()  # a read-only request commits nothing of its own, only this event
    object_type, object_id, version, case_id = _subject(session)
    downloaded = _file(response)
    changes = {"path": {"old": None, "new": request.full_path.rstrip("?")},
               "endpoint": {"old": None, "new": request.endpoint}}
    if downloaded is not None:
        changes["file"] = {"old": None, "new": downloaded}
    record(session, audit_context(), DOWNLOADED if downloaded is not None else VIEWED, object_type, object_id,
           document_version=version, case_id=case_id, changes=changes)
    session.commit()
    return response


def end_expired_sessions():
    """An account whose access period ended is signed out at its next request (21 CFR 11.10(d))."""
    if not current_user.is_authenticated:
        return None
    expires = current_user.user.access_expires_at
    if expires is None or expires > utc_now():
        return None
    session_db = db()
    record(session_db, audit_context(), "auth.access_expired", "user", current_user.id,
           reason="the access period set by an administrator ended during the session")
    session_db.commit()
    logout_user()
    session.clear()
    flash(_("Your access period has ended. Ask an administrator if you need access again."), "warning")
    return redirect(url_for("auth.login"))
