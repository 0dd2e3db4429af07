"""User-facing errors raised by services, translatable where they are shown."""
from __future__ import annotations


def N_(message: str) -> str:
    """Marks a message for translation extraction; the web layer translates it when shown."""
    return message


class UserError(ValueError):
    """A refused operation. `message` is an English msgid with %(name)s placeholders filled from `params`."""

    def __init__(self, message: str, **params: object) -> None:
        self.message = message
        self.params = params
        super().__init__(message % params if params else message)


class AuditedRefusal(UserError):
    """A refusal whose own audit record must outlive it (a refused signature, a wrong credential's count).

    The operation raising it has written nothing but that record, so the unit of work keeps what the
    use case wrote instead of rolling it back (edms.application.unit_of_work)."""
