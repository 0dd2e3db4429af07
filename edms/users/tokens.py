"""Bearer tokens for the API: random, stored only as SHA-256, expiring (11.10(d), 11.10(h))."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from edms.audit import AuditContext, record
from edms.timeutil import utc_now
from edms.users.models import ApiToken, User


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
    if row.revoked_at is not None or row.expires_at <= utc_now():
        return None
    if not user.active or user.locked:
        return None
    if user.access_expires_at is not None and user.access_expires_at <= utc_now():
        return None
    return user


def revoke_token(session: Session, ctx: AuditContext, token: str) -> bool:
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == _digest(token)))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utc_now()
    record(session, ctx, "api.token_revoked", "api_token", row.id)
    return True
