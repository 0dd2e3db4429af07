"""Sign-in throttling per account and per client, counted by the one limiter (edms.web.extensions), whose
storage the settings choose (`rate_limit_storage`: one process, or a store every app node shares).

Only failed sign-ins count, twice: under the user name tried (`login_rate_limit`, from wherever it comes) and
under the client address (`login_client_rate_limit`, whatever the names). A name that has reached its limit is
refused before its password is checked, and that refusal is not counted against the client: many failed
sign-ins under one name from a hospital's proxy throttle that name only, never the other people behind the
same address; guessing many names from one address meets the client's limit. The page and the API answer a
throttled attempt in the person's words (429), and audit it (`refuse`: auth.refused, in counted windows per
user name and client, so that a flood cannot fill the audit trail). Bad bearer tokens are throttled per client
by the same limiter (edms.api.blueprint)."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app, request
from flask_limiter.util import get_remote_address
from limits import parse

from edms.application import access
from edms.application.refusal_windows import RefusalWindows
from edms.web.extensions import limiter
from edms.web.runtime import audit_context, db, services, settings

ACCOUNT = "sign-in-account"
CLIENT = "sign-in-client"
REFUSAL_WINDOW = timedelta(minutes=1)
REFUSALS_RECORDED_ONE_BY_ONE = 5  # per user name, client and window; past it, one event with the count


def _account(username: str) -> str:
    return username.strip().casefold()[:128]


def _client() -> str:
    return get_remote_address() or request.remote_addr or "unknown"


def _checks(username: str):
    config = settings()
    return ((parse(config.login_rate_limit), ACCOUNT, _account(username)),
            (parse(config.login_client_rate_limit), CLIENT, _client()))


def refused_by(username: str) -> str | None:
    """Which limit refuses a sign-in under `username` from this client before its password is checked (the
    client's, or the name's), or None."""
    if not limiter.enabled:
        return None
    return next((scope for item, scope, key in reversed(_checks(username))
                 if not limiter.limiter.test(item, scope, key)), None)


def refuse(username: str, *, channel: str) -> bool:
    """Whether the throttle refuses this sign-in; a refused one is audited (its password is never checked)."""
    scope = refused_by(username)
    if scope is None:
        return False
    access.refuse_throttled_sign_in(services(), db(), audit_context(), username, whole_client=scope == CLIENT,
                                    channel=channel, windows=_windows())
    return True


def _windows() -> RefusalWindows[tuple[str, str]]:
    """This app's windows of throttled sign-ins (one per app, per node)."""
    windows: RefusalWindows[tuple[str, str]] = current_app.extensions.setdefault(
        "edms.throttled_sign_ins", RefusalWindows(REFUSAL_WINDOW, REFUSALS_RECORDED_ONE_BY_ONE))
    return windows


def failed(username: str) -> None:
    """Count a failed sign-in against the name tried and against the client."""
    if not limiter.enabled:
        return
    for item, scope, key in _checks(username):
        limiter.limiter.hit(item, scope, key)
