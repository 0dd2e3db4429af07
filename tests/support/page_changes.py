"""Changes a kept page must show, for the page-cache tests of the document page and the case page."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import update

from edms.users.models import User


@dataclass(frozen=True)
class Change:
    name: str
    apply: Callable[..., None]
    prepare: Callable[..., None] | None = None
    shows: bool = True  # the page reads differently afterwards


def user_column(username: str, **values) -> Callable[..., None]:
    """`username`'s account row changed behind edms's back (a direct database update); the change's second
    argument is the page's subject (a document id or a signed case), unused."""
    def change(app, _subject) -> None:
        with app.extensions["edms"].engine.begin() as connection:
            connection.execute(update(User).where(User.username == username).values(**values))
    return change
