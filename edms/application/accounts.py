"""What administrators do to accounts: create, edit the profile, set roles, deactivate, reactivate, unlock,
reset a password. (A person's own sign-in and password are in edms.application.access.) Deactivating an account
and resetting its password revoke its signing certificates in the same transaction (21 CFR 11.300(c))."""
from __future__ import annotations

from sqlalchemy.orm import Session

from edms.application.reauthentication import confirm_identity
from edms.application.services import Services
from edms.application.unit_of_work import use_case
from edms.audit import AuditContext
from edms.signatures import keys
from edms.users import operations as ops
from edms.users.models import User
from edms.users.profiles import Profile
from edms.users.sessions import end_sessions


def create_account(services: Services, session: Session, ctx: AuditContext, *, username: str, profile: Profile,
                   roles: set[str], password: str, must_change_password: bool = True) -> User:
    with use_case(session):
        return ops.create_user(session, ctx, services.settings.password, username=username, profile=profile,
                               roles=roles, password=password, must_change_password=must_change_password)


def update_profile(services: Services, session: Session, ctx: AuditContext, user: User, profile: Profile,
                   reason: str) -> None:
    with use_case(session):
        ops.update_profile(session, ctx, user, profile, reason)


def set_roles(services: Services, session: Session, ctx: AuditContext, user: User, roles: set[str],
              reason: str, *, actor: User, password: str | None) -> None:
    """The administrator confirms with their password; a role taken away ends the person's sessions and tokens."""
    with use_case(session):
        confirm_identity(services, session, ctx, actor, password, act="a role change")
        removed = user.roles - roles
        ops.set_roles(session, ctx, user, roles, reason)
        if removed:
            end_sessions(session, ctx, user, "role removed")


def deactivate(services: Services, session: Session, ctx: AuditContext, user: User, reason: str) -> None:
    with use_case(session):
        ops.deactivate(session, ctx, user, reason)
        end_sessions(session, ctx, user, "account deactivated")
        keys.revoke_all(session, ctx, user, "account deactivated")


def reactivate(services: Services, session: Session, ctx: AuditContext, user: User, password: str, reason: str, *,
               actor: User, actor_password: str | None) -> None:
    """The account returns with a temporary password; its old certificates stay revoked, and a new key and
    certificate come only after a second administrator's identity check (edms.signatures.gates)."""
    with use_case(session):
        confirm_identity(services, session, ctx, actor, actor_password, act="a reactivation")
        ops.reactivate(session, ctx, services.settings.password, user, password, reason)


def unlock(services: Services, session: Session, ctx: AuditContext, user: User, reason: str) -> None:
    with use_case(session):
        ops.unlock(session, ctx, user, reason)


def reset_password(services: Services, session: Session, ctx: AuditContext, user: User, password: str,
                   reason: str, *, actor: User, actor_password: str | None) -> None:
    with use_case(session):
        confirm_identity(services, session, ctx, actor, actor_password, act="a password reset")
        ops.admin_set_password(session, ctx, services.settings.password, user, password, reason)
        # Nobody but its owner may ever open a signing key (11.200(a)(2)-(3)): a reset ends it.
        keys.revoke_all(session, ctx, user, "password reset by an administrator")
        end_sessions(session, ctx, user, "password reset by an administrator")
