"""Delivering the outbox: each notification's outcome is committed with its audit event in a unit of
work of its own (edms.notifications.outbox), so a crash resends at most one message."""
from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from edms.application.services import Services
from edms.application.unit_of_work import complete
from edms.audit import AuditContext
from edms.notifications.outbox import DELIVERY_BATCH, DeliveryReport, deliver_pending
from edms.timeutil import utc_now


def deliver(services: Services, session: Session | None, ctx: AuditContext, *,
            limit: int = DELIVERY_BATCH) -> DeliveryReport:
    """Send what is waiting. `session`, the caller's unit of work if it has one, is completed first."""
    if session is not None:
        complete(session)
    return deliver_pending(services.sessions, ctx, services.settings.smtp, utc_now(), limit=limit,
                           installation=installation_id(services))


def installation_id(services: Services) -> str:
    """A stable value of this installation, the same on every node (they share the secret key), that reveals
    nothing of the key: in each Message-ID, so a retried message keeps its Message-ID."""
    return hashlib.sha256(b"edms-message-id\0" + services.settings.secret_key.encode()).hexdigest()[:16]
