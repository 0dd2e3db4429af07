"""The signed-in person as Flask-Login sees it, wrapping the account model."""
from __future__ import annotations

from flask_login import UserMixin

from edms.users.models import User
from edms.users.roles import ADMIN, INSPECTOR


class SessionUser(UserMixin):
    def __init__(self, user: User) -> None:
        self.user = user
        self.id = user.id

    @property
    def is_active(self) -> bool:
        return self.user.active and not self.user.locked

    @property
    def printed_name(self) -> str:
        return self.user.printed_name

    @property
    def username(self) -> str:
        return self.user.username

    @property
    def timezone(self) -> str:
        return self.user.timezone

    @property
    def roles(self) -> set[str]:
        return self.user.roles

    def has_role(self, *roles: str) -> bool:
        return self.user.has_role(*roles)

    @property
    def is_admin(self) -> bool:
        return self.user.has_role(ADMIN)

    @property
    def is_inspector(self) -> bool:
        return self.user.has_role(INSPECTOR)
