"""Sign-in throttling per account and per client, counted by the one limiter (edms.web.extensions), whose
storage the settings choose (`rate_limit_storage`: one process, or a store every app node shares).

Only failed sign-ins count, twice: under the user name tried (`login_rate_limit`, from wherever it comes) and
under the client address (`login_client_rate_limit`, whatever the names). A name that has reached its limit is
refused before its password is checked, and that refusal is not counted against the client: many failed
sign-ins under one name from a hospital's proxy throttle that name only, never the other people behind the
same address; guessing many names from one address meets the client's limit. The page and the API answer a
throttled attempt in the person's words (429). Bad bearer tokens are throttled per client by the same limiter
(edms.api.blueprint)."""
from __future__ import annotations

from flask import request
from flask_limiter.util import get_remote_address
from limits import parse

from edms.web.extensions import limiter
from edms.web.runtime import settings

ACCOUNT = "sign-in-account"
CLIENT = "sign-in-client"


def _account(username: str) -> str:
    return username.strip().casefold()[:128]


def _client() -> str:
    return get_remote_address() or request.remote_addr or "unknown"


def _checks(username: str):
    config = settings()
    return ((parse(config.login_rate_limit), ACCOUNT, _account(username)),
            (parse(config.login_client_rate_limit), CLIENT, _client()))


def throttled(username: str) -> bool:
    """Whether a sign-in under `username` from this client is refused before its password is checked."""
    if not limiter.enabled:
        return False
    return any(not limiter.limiter.test(item, scope, key) for item, scope, key in _checks(username))


def failed(username: str) -> None:
    """Count a failed sign-in against the name tried and against the client."""
    if not limiter.enabled:
        return
    for item, scope, key in _checks(username):
        limiter.limiter.hit(item, scope, key)
