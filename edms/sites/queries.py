"""Reading sites and who belongs to them."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from edms.sites.models import Site, SiteMember
from edms.users.models import User


def all_sites(session: Session) -> list[Site]:
    return list(session.scalars(select(Site).order_by(Site.name)))


def site_by_name(session: Session, name: str) -> Site | None:
    return session.scalar(select(Site).where(Site.name == name.strip()))


def member_site_ids(user_id: int) -> Select[Any]:
    """The ids of the sites `user_id` belongs to now, as a subquery."""
    return select(SiteMember.site_id).where(SiteMember.user_id == user_id, SiteMember.removed_at.is_(None))


def sites_of(session: Session, user: User) -> list[Site]:
    return list(session.scalars(select(Site).where(Site.id.in_(member_site_ids(user.id))).order_by(Site.name)))


def members(session: Session, site: Site) -> list[User]:
    return list(session.scalars(select(User).join(SiteMember, SiteMember.user_id == User.id).where(
        SiteMember.site_id == site.id, SiteMember.removed_at.is_(None)).order_by(User.printed_name)))


def current_membership(session: Session, site: Site, user: User) -> SiteMember | None:
    return session.scalar(select(SiteMember).where(SiteMember.site_id == site.id, SiteMember.user_id == user.id,
                                                   SiteMember.removed_at.is_(None)))
