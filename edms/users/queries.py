"""Reading accounts: finding one by user name, and whether its password has expired."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.config import PasswordPolicy
from edms.timeutil import utc_now
from edms.users.models import User
from edms.users.usernames import normalise_username


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == normalise_username(username)))


def password_expired(policy: PasswordPolicy, user: User, now: datetime | None = None) -> bool:
    if user.password_changed_at is None:
        return True
    return (now or utc_now()) - user.password_changed_at > timedelta(days=policy.max_age_days)
