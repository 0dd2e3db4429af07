"""Delegating one's named signing steps for a period (the delegate is told), and ending a delegation."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from edms.application.notices import announce_delegation
from edms.application.reauthentication import confirm_identity
from edms.application.services import Services
from edms.application.unit_of_work import use_case
from edms.audit import AuditContext
from edms.users.models import User
from edms.workflow import delegations as ops
from edms.workflow.models import Delegation


def delegate(services: Services, session: Session, ctx: AuditContext, actor: User, *, delegator: User,
             delegate_to: User, role: str, starts_at: datetime, ends_at: datetime, reason: str,
             password: str | None) -> Delegation:
    """Hands signing authority to another person: the actor confirms it with their password."""
    with use_case(session):
        confirm_identity(services, session, ctx, actor, password, act="a delegation")
        row = ops.delegate(session, ctx, actor, delegator=delegator, delegate_to=delegate_to, role=role,
                           starts_at=starts_at, ends_at=ends_at, reason=reason)
        announce_delegation(session, ctx, services.settings.smtp, row, delegator, delegate_to)
    return row


def revoke(services: Services, session: Session, ctx: AuditContext, actor: User, row: Delegation,
           reason: str) -> None:
    with use_case(session):
        ops.revoke(session, ctx, actor, row, reason)
