"""Error pages: never a stack trace; JSON with a stable shape under /api."""
from __future__ import annotations

import logging

from flask import jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, NotFound

from edms.application.unit_of_work import StaleRead
from edms.cases.errors import CaseOutOfScope
from edms.web.refusals import refused_because

log = logging.getLogger("edms")


def api_error(status: int, code: str, message: str, details: dict | None = None):
    if status == 403:
        refused_because(f"{code}: {message}")  # for the refusal's audit entry (edms.web.refusals)
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return jsonify(body), status


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def handle_http_error(error: HTTPException):
    if error.code == 403:
        refused_because(error.description or "forbidden")
    if _wants_json():
        return api_error(error.code or 500, (error.name or "error").lower().replace(" ", "_"), error.description or "")
    if error.code == 429:  # the limiter's own text ("10 per 1 minute") is not for people
        return render_template("error.html", code=429, name=_("Too many attempts"),
                               description=_("Too many attempts in a short time. Wait a few minutes, then try "
                                             "again.")), 429
    return error_page(error)


# The titles and descriptions of error pages in the reader's language (werkzeug's are English). A description
# the view gave (a 400 naming the parameter, already translated where it is a sentence for people) is kept.
TITLES = {400: _l("Bad request"), 401: _l("Sign-in required"), 403: _l("Access refused"),
          404: _l("Page not found"), 405: _l("Not allowed here"), 409: _l("Conflict"), 410: _l("No longer here"),
          413: _l("Too large"), 415: _l("Unsupported type"), 422: _l("Cannot be processed"),
          500: _l("Internal error"), 503: _l("Temporarily unavailable")}
DESCRIPTIONS = {
    400: _l("The request could not be read. Go back, check what you entered and try again."),
    401: _l("Sign in to see this page."),
    403: _l("Your roles do not allow this page or action. Ask an administrator if you need it."),
    404: _l("There is no such page or record, or it is not open to you. Check the address, or start again from "
            "the home page."),
    405: _l("This address cannot be used that way. Go back and use the page's own buttons and links."),
    409: _l("The record was changed meanwhile. Reload the page and try again."),
    410: _l("This page or record is no longer available."),
    413: _l("What was sent is larger than the server accepts. Send a smaller file."),
    415: _l("This type of content is not accepted here."),
    422: _l("The request was understood but could not be processed. Check what you entered."),
    500: _l("An internal error occurred; nothing was saved. The error has been logged."),
    503: _l("The service is briefly unavailable. Try again in a few minutes."),
}


def error_page(error: HTTPException):
    """The app's error page for `error`, with its title and description in the reader's language."""
    code = error.code or 500
    title = TITLES.get(code)
    default = error.description == type(error).description  # werkzeug's own English sentence
    description = DESCRIPTIONS.get(code) if default or not error.description else None
    return render_template("error.html", code=code, name=str(title) if title else error.name,
                           description=str(description) if description else error.description), code


def handle_csrf_error(error: CSRFError):
    if _wants_json():
        return api_error(400, "csrf", error.description)
    return render_template(
        "error.html", code=400, name=_("The form expired"),
        description=_("The form was open too long or came from another site. Go back, reload the page and try again."),
    ), 400


def handle_unexpected(error: Exception):
    if isinstance(error, HTTPException):
        return handle_http_error(error)
    if isinstance(error, StaleRead):
        raise error  # not an error: the request runs again (edms.web.runtime.dispatch_with_reruns)
    log.error("unhandled error", exc_info=error)
    if _wants_json():
        return api_error(500, "internal_error", "An internal error occurred; nothing was saved. The error has been logged.")
    try:
        return error_page(InternalServerError())
    except Exception:  # the error page itself failed: still never show a stack trace
        log.error("error page failed", exc_info=True)
        return "500 Internal Server Error: nothing was saved; the error has been logged.", 500, {"Content-Type": "text/plain"}


def handle_out_of_scope(error: CaseOutOfScope):
    """A case the person may not see does not exist for them (edms.workflow.visibility)."""
    return handle_http_error(NotFound())


def register(app) -> None:
    app.register_error_handler(CaseOutOfScope, handle_out_of_scope)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
