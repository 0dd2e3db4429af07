"""Bearer tokens for the API: random, stored only as SHA-256, expiring (11.10(d), 11.10(h))."""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Select, bindparam, select, true
from sqlalchemy.orm import Session, joinedload

from edms.audit import AuditContext, record
from edms.db import one_statement
from edms.timeutil import utc_now
from edms.users.models import ApiToken, User, UserRole


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, ctx: AuditContext, user: User, minutes: int) -> tuple[str, datetime]:
    token = secrets.token_urlsafe(32)
    now = utc_now()
    expires = now + timedelta(minutes=minutes)
    row = ApiToken(user_id=user.id, token_sha256=_digest(token), created_at=now, expires_at=expires)
    session.add(row)
    session.flush()
    record(session, ctx, "api.token_issued", "api_token", row.id,
           changes={"expires_at": {"old": None, "new": expires.isoformat()}})
    return token, expires


def user_for_token(session: Session, token: str) -> User | None:
    """The token's holder, in one query by the indexed (unique) SHA-256 with the holder and their roles: a
    token is 256 random bits, so a plain hash (no KDF) is as strong as the token itself."""
    found = session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_sha256 == _digest(token)).options(joinedload(User.role_grants))
    ).unique().first()
    if found is None:
        return None
    row, user = found
    if not admissible(row.revoked_at, row.expires_at, user.active, user.locked_at, user.access_expires_at, utc_now()):
        return None
    return user


def admissible(revoked_at: datetime | None, expires_at: datetime, active: bool, locked_at: datetime | None,
               access_expires_at: datetime | None, now: datetime) -> bool:
    """Whether a token opens the API (the one rule for both look-ups): not revoked, not expired, its holder
    active, not locked and within their access period (11.10(d))."""
    if revoked_at is not None or expires_at <= now:
        return False
    if not active or locked_at is not None:
        return False
    return access_expires_at is None or access_expires_at > now


@dataclass(frozen=True, slots=True)
class Caller:
    """The holder of a valid bearer token as plain values read in one statement (no ORM object, nothing in
    the session's identity map): what a read needs to name, scope and audit its caller."""

    id: int
    username: str
    printed_name: str
    language: str
    timezone: str
    roles: frozenset[str]

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))


_tokens, _users, _grants = ApiToken.__table__, User.__table__, UserRole.__table__
_CALLER_COLUMNS = (_tokens.c.revoked_at, _tokens.c.expires_at, _users.c.id, _users.c.username, _users.c.printed_name,
                   _users.c.language, _users.c.timezone, _users.c.active, _users.c.locked_at,
                   _users.c.access_expires_at, _grants.c.role)
_CALLER_FROM = (_tokens.join(_users, _users.c.id == _tokens.c.user_id)
                .outerjoin(_grants, _grants.c.user_id == _users.c.id))
# One Core statement, built once (its compiled form is cached by the engine): the token, its holder and the
# holder's roles (one row per role, or one row with no role), by the unique SHA-256 of the token.
_CALLER = select(*_CALLER_COLUMNS).select_from(_CALLER_FROM).where(_tokens.c.token_sha256 == bindparam("digest"))
CALLER_PREFIX = "caller_"  # the caller's columns in a statement of `with_caller`


def caller_for_token(session: Session, token: str) -> Caller | None:
    """The token's holder as a `Caller`, by the same rule as `user_for_token` (`admissible`), in one Core
    statement run on the session's connection (its unit of work's transaction) without the ORM."""
    return _caller(session.connection().execute(_CALLER, {"digest": _digest(token)}).all(), "")


def _caller(rows: Sequence[Any], prefix: str) -> Caller | None:
    """The admissible caller of the token rows (their columns named `prefix` + the column's name), or None."""
    if not rows:
        return None
    first = rows[0]
    if not admissible(getattr(first, prefix + "revoked_at"), getattr(first, prefix + "expires_at"),
                      getattr(first, prefix + "active"), getattr(first, prefix + "locked_at"),
                      getattr(first, prefix + "access_expires_at"), utc_now()):
        return None
    role = prefix + "role"
    return Caller(id=getattr(first, prefix + "id"), username=getattr(first, prefix + "username"),
                  printed_name=getattr(first, prefix + "printed_name"), language=getattr(first, prefix + "language"),
                  timezone=getattr(first, prefix + "timezone"),
                  roles=frozenset(getattr(row, role) for row in rows if getattr(row, role) is not None))


def with_caller(statement: Select, *order_by: str) -> Select:
    """One statement for a read: the token's holder and roles (as `_CALLER`, columns prefixed `caller_`) and
    beside each of their rows, every row of `statement` (a read that does not depend on the caller), ordered by
    `statement`'s columns named in `order_by`. An outer join: a token with no such rows still gives its
    caller's rows, their other columns NULL. Run by `caller_with_rows`; built once per read, at import."""
    beside = statement.order_by(None).subquery("beside")
    return (select(*(column.label(CALLER_PREFIX + column.key) for column in _CALLER_COLUMNS), *beside.c)
            .select_from(_CALLER_FROM.outerjoin(beside, true()))
            .where(_tokens.c.token_sha256 == bindparam("digest"))
            .order_by(_grants.c.role, *(beside.c[name] for name in order_by)))


def caller_with_rows(source: Session | Engine, token: str, statement: Select,
                     parameters: dict[str, object]) -> tuple[Caller | None, list[Any]]:
    """(the token's caller, by the rule of `caller_for_token`; the rows of the read `statement` was made with by
    `with_caller`, once each and in its order), read in one statement: on the session's connection (in its unit
    of work), or, given an engine, alone outside any transaction (`edms.db.one_statement`). No rows for a token
    that opens nothing: they are not read beyond this function."""
    values = {**parameters, "digest": _digest(token)}
    if isinstance(source, Engine):
        rows: Sequence[Any] = one_statement(source, statement, values)
    else:
        rows = source.connection().execute(statement, values).all()
    caller = _caller(rows, CALLER_PREFIX)
    if caller is None:
        return None, []
    # The read's rows repeat once per role (the join's product): those of one role are all of them, in order.
    role = CALLER_PREFIX + "role"
    first_role = getattr(rows[0], role)
    return caller, [row for row in rows if getattr(row, role) == first_role]


def revoke_token(session: Session, ctx: AuditContext, token: str) -> bool:
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == _digest(token)))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utc_now()
    record(session, ctx, "api.token_revoked", "api_token", row.id)
    return True
