"""An administrator's acts on sites: create one, change its name, zone or country, add or remove a member."""
from __future__ import annotations

from sqlalchemy.orm import Session

from edms.application.services import Services
from edms.application.unit_of_work import use_case
from edms.audit import AuditContext
from edms.sites import operations as ops
from edms.sites.models import Site
from edms.users.models import User


def create_site(services: Services, session: Session, ctx: AuditContext, user: User, *, name: str, timezone: str,
                country: str) -> Site:
    with use_case(session):
        return ops.create_site(session, ctx, user, name, timezone, country)


def update_site(services: Services, session: Session, ctx: AuditContext, user: User, site: Site, *, name: str,
                timezone: str, country: str, reason: str) -> None:
    with use_case(session):
        ops.update_site(session, ctx, user, site, name, timezone, country, reason)


def add_member(services: Services, session: Session, ctx: AuditContext, user: User, site: Site, person: User,
               reason: str) -> None:
    with use_case(session):
        ops.add_member(session, ctx, user, site, person, reason)


def remove_member(services: Services, session: Session, ctx: AuditContext, user: User, site: Site, person: User,
                  reason: str) -> None:
    with use_case(session):
        ops.remove_member(session, ctx, user, site, person, reason)
