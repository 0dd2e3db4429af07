"""Who acts, from where: passed explicitly to every operation that changes state."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AuditContext:
    user_id: int | None
    user_name: str  # the printed name at the time of the act, kept even if the account changes later
    client_addr: str | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def system(cls, what: str = "system") -> AuditContext:
        """Acts of the system itself or of an operator at the server's console."""
        return cls(user_id=None, user_name=what, client_addr="local")
