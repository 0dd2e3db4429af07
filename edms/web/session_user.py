"""The signed-in person as Flask-Login sees it.

A page request names its reader from one Core row (edms.users.session_records.Reader: names, language, zone,
roles, the account's state, read with the session's record): what the hooks, the shell and most pages ask of
the reader needs no ORM object. `user`, the account model the use cases take, is loaded on first use in the
request; once loaded, every property answers from it (a view that changed the account reads its new values).
"""
from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy.orm import joinedload

from edms.users.models import User
from edms.users.roles import ADMIN, INSPECTOR
from edms.users.session_records import Reader
from edms.web.runtime import db


class SessionUser(UserMixin):
    def __init__(self, user: User | None = None, *, reader: Reader | None = None) -> None:
        if user is None and reader is None:
            raise ValueError("a SessionUser needs the account or its reader row")
        self._user = user
        self.reader = reader
        self.id = user.id if user is not None else reader.id  # type: ignore[union-attr]

    @classmethod
    def of(cls, reader: Reader) -> SessionUser:
        return cls(reader=reader)

    @property
    def user(self) -> User:
        """The account model, loaded (with its roles) the first time the request asks for it."""
        if self._user is None:
            found = db().get(User, self.id, options=[joinedload(User.role_grants)])
            if found is None:  # users are never deleted (a trigger refuses it)
                raise LookupError(f"user {self.id} is gone")
            self._user = found
        return self._user

    @property
    def loaded(self) -> User | None:
        return self._user

    def _value(self, name: str):
        source: object = self._user if self._user is not None else self.reader
        return getattr(source, name)

    @property
    def is_active(self) -> bool:
        return bool(self._value("active")) and self._value("locked_at") is None

    @property
    def printed_name(self) -> str:
        return str(self._value("printed_name"))

    @property
    def username(self) -> str:
        return str(self._value("username"))

    @property
    def timezone(self) -> str:
        return str(self._value("timezone"))

    @property
    def language(self) -> str:
        return str(self._value("language"))

    @property
    def access_expires_at(self) -> datetime | None:
        return self._value("access_expires_at")

    @property
    def must_change_password(self) -> bool:
        return bool(self._value("must_change_password"))

    @property
    def password_changed_at(self) -> datetime | None:
        return self._value("password_changed_at")

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(self._user.roles) if self._user is not None else self.reader.roles  # type: ignore[union-attr]

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    @property
    def is_admin(self) -> bool:
        return self.has_role(ADMIN)

    @property
    def is_inspector(self) -> bool:
        return self.has_role(INSPECTOR)
