"""The CSRF token a page prints, signed once per session rather than once per request.

Flask-WTF keeps a random value in the session and prints it signed (itsdangerous: a time stamp and an HMAC) in
every form; `generate_csrf` signs it again for every request that renders a form, so each page cost an HMAC, a
JSON dump and a zlib compression for a token as good as the one before it: edms sets no time limit on the token
(`WTF_CSRF_TIME_LIMIT = None`, it lives as long as the session, which idles out on its own), so every token signed
for the session's value verifies alike. The first token signed in a session is kept in the session with the value
it was signed for (`remember_signed_token`, in the response that made the value: the cookie is written then
anyway), and later requests of that session print it (`reuse_signed_token` puts it where `generate_csrf` looks
first, `g`). The check itself (`CSRFProtect`, `validate_csrf`) is Flask-WTF's, unchanged: a token is accepted
only if it carries the session's value under the application's key.
"""
from __future__ import annotations

from flask import Response, current_app, g, session
from itsdangerous import BadData, URLSafeTimedSerializer

FIELD = "csrf_token"  # Flask-WTF's WTF_CSRF_FIELD_NAME (edms keeps the default): the session's value, g's token
SIGNED = "csrf_signed"  # the session: [the value, the token signed for it]
_SALT = "wtf-csrf-token"  # Flask-WTF's


def reuse_signed_token() -> None:
    """Before a page request: the token signed earlier in this session, if it was signed for the session's value."""
    kept = session.get(SIGNED)
    if kept and kept[0] == session.get(FIELD):
        setattr(g, FIELD, kept[1])


def remember_signed_token(response: Response) -> Response:
    """After a page request that signed a token for the session's value: keep it in the session (once)."""
    signed, value = g.get(FIELD), session.get(FIELD)
    if not signed or not value:
        return response
    kept = session.get(SIGNED)
    if kept and kept[0] == value:
        return response
    if _signed_value(signed) == value:  # the token in `g` is this session's (not one from before a session.clear())
        session[SIGNED] = [value, signed]
    return response


def _signed_value(token: str) -> object:
    key = current_app.config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
    try:
        return URLSafeTimedSerializer(key, salt=_SALT).loads(token)  # type: ignore[arg-type]
    except BadData:
        return None
