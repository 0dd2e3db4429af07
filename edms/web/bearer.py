"""API requests that carry a bearer token never touch the machinery of page sessions.

The caller of such a request is named by its token alone (edms.api.blueprint.token_required checks its
validity, expiry, revocation, the holder's state, roles and case scope). The page session's cookie, the
Flask-Login user it names, its idle time-out, access period, forced password change and read-only guard
concern the pages: for a bearer request the cookie is neither read nor written (`CookieSessions`) and those
hooks do not run (`pages_only`), so an API call neither costs their work nor keeps a page session alive.
Every other request (pages, and API requests without a bearer token) goes through them as before.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, Request, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from flask.wrappers import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

API_PREFIX = "/api/v1/"


BEARER = "edms.bearer"  # the request's WSGI environ: is_bearer, decided once per request


def is_bearer(req: Request) -> bool:
    """Whether `req` is an API request carrying a bearer token (the scheme compared as token_required does)."""
    found = req.environ.get(BEARER)
    if found is None:
        found = req.environ[BEARER] = (req.path.startswith(API_PREFIX)
                                       and req.environ.get("HTTP_AUTHORIZATION", "")[:7].lower() == "bearer ")
    return found


def pages_only(hook: Callable[..., Any]) -> Callable[..., Any]:
    """A before- or after-request hook that concerns page sessions: skipped for a bearer request (an
    after-request hook then hands the response on unchanged)."""

    @wraps(hook)
    def wrapped(*args: Any) -> Any:
        if is_bearer(request):
            return args[0] if args else None
        return hook(*args)

    return wrapped


_READ = "_edms_read"  # the session's cookie as the request carried it (its text), read again only if needed
_SERIALIZER = "edms_session_serializer"  # app.extensions: (the keys it was made for, the serializer)


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, except that a bearer request gets an empty session: its cookie is not
    verified and nothing is written back.

    A session whose content ends the request as it began is not written back either, even when something
    touched it: Flask-Login's "strong" protection marks every anonymous session modified (it pops its keys and
    sets `_remember`, which its after-request hook pops again), so every answer to a visitor not signed in
    (a static file, a 404, a favicon) carried the cookie as that request had read it. Such an answer arriving
    after the answer of a form that changed the session (the language picked before sign-in) replaced the
    browser's newer cookie with the older one, and the next page was in the old language again. The content the
    request began with is read again from the request's cookie only for a session marked modified (most page
    requests of a signed-in person change nothing and mark nothing).

    The signing serializer is made once per application and key (Flask makes one for every request, twice:
    itsdangerous then checks its JSON serializer by dumping a test value each time), and made again when the
    secret key or its fallbacks change."""

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        kept = app.extensions.get(_SERIALIZER)
        if kept is not None and kept[0] == keys:
            return kept[1]
        serializer = super().get_signing_serializer(app)
        app.extensions[_SERIALIZER] = (keys, serializer)
        return serializer

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if is_bearer(request):
            return self.session_class()
        session = super().open_session(app, request)
        if session is not None:
            setattr(session, _READ, request.cookies.get(self.get_cookie_name(app)))
        return session

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if is_bearer(request):
            return None
        if session.modified and dict(session) == self._content_read(app, session):
            session.modified = False  # the same content: no Set-Cookie that could undo a concurrent change
        return super().save_session(app, session, response)

    def _content_read(self, app: Flask, session: SessionMixin) -> dict[str, Any] | None:
        """What the request's cookie held (decoded afresh: flashes are a list changed in place), {} for none."""
        if not hasattr(session, _READ):
            return None
        text = getattr(session, _READ)
        if not text:
            return {}
        serializer = self.get_signing_serializer(app)
        try:
            return dict(serializer.loads(text, max_age=int(app.permanent_session_lifetime.total_seconds())))  # type: ignore[union-attr]
        except BadSignature:  # Flask opened it as an empty session
            return {}
