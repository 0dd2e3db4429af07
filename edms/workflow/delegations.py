"""Delegating one's named signing steps, for a period, to another holder of the same role.

Only steps that name a person (e.g. the case's treating physician) need a delegation: any holder of a
role may already sign a step that asks for the role. A person delegates their own steps; an
administrator may record a delegation for someone who is absent unexpectedly. Both acts and every
revocation are audited; a signature made under a delegation names it in its signed manifest.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from edms.audit import AuditContext, record
from edms.errors import N_, UserError
from edms.timeutil import isoformat_utc, require_aware, utc_now
from edms.users.models import User
from edms.users.roles import ADMIN, CONTENT_ROLES
from edms.workflow.models import Delegation

# An absence, not a standing transfer of authority: longer needs a new, deliberate delegation.
MAX_PERIOD = timedelta(days=92)
MAX_REASON = 500


class DelegationError(UserError):
    """A refused delegation; the message is shown to the person who asked."""


def delegate(session: Session, ctx: AuditContext, actor: User, *, delegator: User, delegate_to: User, role: str,
             starts_at: datetime, ends_at: datetime, reason: str, now: datetime | None = None) -> Delegation:
    now = now or utc_now()
    starts_at, ends_at = require_aware(starts_at), require_aware(ends_at)
    reason = (reason or "").strip()
    if actor.id != delegator.id and not actor.has_role(ADMIN):
        raise DelegationError(N_("You may delegate only your own signing steps."))
    if role not in CONTENT_ROLES:
        raise DelegationError(N_("Only signing roles can be delegated."))
    if not delegator.has_role(role):
        raise DelegationError(N_("%(person)s does not hold the role %(role)s, so cannot delegate it."),
                              person=delegator.printed_name, role=role)
    if delegate_to.id == delegator.id:
        raise DelegationError(N_("A person cannot delegate to themselves."))
    if not delegate_to.active or delegate_to.locked:
        raise DelegationError(N_("%(person)s's account is not active: choose someone else."),
                              person=delegate_to.printed_name)
    if not delegate_to.has_role(role):
        raise DelegationError(N_("%(person)s does not hold the role %(role)s: delegate only to a holder of the same role."),
                              person=delegate_to.printed_name, role=role)
    if ends_at <= starts_at:
        raise DelegationError(N_("The delegation must end after it starts."))
    if ends_at <= now:
        raise DelegationError(N_("The delegation would already have ended."))
    if ends_at - starts_at > MAX_PERIOD:
        raise DelegationError(N_("A delegation lasts at most %(days)s days."), days=MAX_PERIOD.days)
    if not reason:
        raise DelegationError(N_("A reason is required (e.g. annual leave, conference)."))
    if len(reason) > MAX_REASON:
        raise DelegationError(N_("The reason is too long (%(n)s characters at most)."), n=MAX_REASON)
    row = Delegation(delegator_id=delegator.id, delegate_id=delegate_to.id, role=role, starts_at=starts_at,
                     ends_at=ends_at, reason=reason, created_by=actor.id, created_at=now)
    session.add(row)
    session.flush()
    record(session, ctx, "delegation.created", "delegation", row.id, reason=reason, changes={"delegation": {
        "old": None, "new": describe(row, delegator, delegate_to)}})
    return row


def revoke(session: Session, ctx: AuditContext, actor: User, row: Delegation, reason: str,
           now: datetime | None = None) -> None:
    now = now or utc_now()
    reason = (reason or "").strip()
    if actor.id not in (row.delegator_id, row.created_by) and not actor.has_role(ADMIN):
        raise DelegationError(N_("Only the person who delegated, or an administrator, may end a delegation."))
    if row.revoked_at is not None:
        raise DelegationError(N_("This delegation has already been ended."))
    if row.ends_at <= now:
        raise DelegationError(N_("This delegation has already expired."))
    if not reason:
        raise DelegationError(N_("A reason is required to end a delegation early."))
    row.revoked_at, row.revoked_by, row.revocation_reason = now, actor.id, reason[:MAX_REASON]
    record(session, ctx, "delegation.revoked", "delegation", row.id, reason=reason,
           changes={"revoked_at": {"old": None, "new": isoformat_utc(now)}})


def describe(row: Delegation, delegator: User, delegate_to: User) -> dict[str, object]:
    """The delegation as signed manifests and audit events carry it."""
    return {
        "delegation_id": row.id, "role": row.role,
        "on_behalf_of_user_id": delegator.id, "on_behalf_of_username": delegator.username,
        "on_behalf_of_printed_name": delegator.printed_name, "delegate_user_id": delegate_to.id,
        "valid_from": isoformat_utc(row.starts_at), "valid_until": isoformat_utc(row.ends_at),
    }


def active_for(session: Session, delegate_id: int, now: datetime) -> list[Delegation]:
    """The delegations `delegate_id` may act under now."""
    rows = session.scalars(select(Delegation).where(
        Delegation.delegate_id == delegate_id, Delegation.revoked_at.is_(None),
        Delegation.starts_at <= now, Delegation.ends_at > now).order_by(Delegation.id))
    return list(rows)


def acting_for(session: Session, delegate_id: int, now: datetime) -> Mapping[int, frozenset[str]]:
    """{delegator id: roles} for routing.Signer."""
    result: dict[int, set[str]] = {}
    for row in active_for(session, delegate_id, now):
        result.setdefault(row.delegator_id, set()).add(row.role)
    return {delegator: frozenset(roles) for delegator, roles in result.items()}


def find_active(session: Session, delegate_id: int, delegator_id: int, role: str, now: datetime) -> Delegation | None:
    return next((row for row in active_for(session, delegate_id, now)
                 if row.delegator_id == delegator_id and row.role == role), None)


def involving(session: Session, user_id: int) -> list[Delegation]:
    """Every delegation given or received by `user_id`, newest first."""
    return list(session.scalars(select(Delegation).where(
        or_(Delegation.delegator_id == user_id, Delegation.delegate_id == user_id)).order_by(Delegation.id.desc())))


def every(session: Session) -> list[Delegation]:
    return list(session.scalars(select(Delegation).order_by(Delegation.id.desc())))
