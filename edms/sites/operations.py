"""Every state change of a site and of its membership, by an administrator, audited in the same transaction."""
from __future__ import annotations

import re

from sqlalchemy.orm import Session

from edms.audit import AuditContext, record
from edms.errors import N_
from edms.plaintext import UnsafeText, check_text
from edms.sites.errors import SiteError
from edms.sites.models import Site, SiteMember
from edms.sites.queries import current_membership, site_by_name
from edms.timeutil import is_valid_zone, utc_now
from edms.users.models import User
from edms.users.roles import ADMIN

COUNTRY_PATTERN = r"[A-Z]{2}"


def _require_admin(user: User) -> None:
    if not user.has_role(ADMIN):
        raise SiteError(N_("Only administrators create or change sites and their members."))


def _require_reason(reason: str) -> None:
    if not (reason or "").strip():
        raise SiteError(N_("A reason is required."))


def _checked(session: Session, name: str, timezone: str, country: str, site: Site | None = None) -> tuple[str, str, str]:
    name = (name or "").strip()
    if not name:
        raise SiteError(N_("The site's name is required."))
    if len(name) > 200:
        raise SiteError(N_("The site's name is too long (%(limit)s characters at most)."), limit=200)
    try:
        check_text(name)
    except UnsafeText as exc:
        raise SiteError(N_("The site's name may not hold %(code)s: control, bidirectional and invisible characters "
                           "are refused."), code=exc.params["code"]) from None
    same = site_by_name(session, name)
    if same is not None and same is not site:
        raise SiteError(N_("A site named '%(name)s' exists already."), name=name)
    if not is_valid_zone(timezone or ""):
        raise SiteError(N_("Unknown time zone '%(zone)s'."), zone=timezone)
    country = (country or "").strip().upper()
    if not re.fullmatch(COUNTRY_PATTERN, country):
        raise SiteError(N_("The country is its two-letter ISO 3166 code, e.g. JP, DE or US."))
    return name, timezone, country


def create_site(session: Session, ctx: AuditContext, user: User, name: str, timezone: str, country: str) -> Site:
    _require_admin(user)
    return register_site(session, ctx, user, name, timezone, country)


def register_site(session: Session, ctx: AuditContext, user: User, name: str, timezone: str, country: str,
                  reason: str | None = None) -> Site:
    """A new site record, audited; the caller has checked who may create it."""
    name, timezone, country = _checked(session, name, timezone, country)
    site = Site(name=name, timezone=timezone, country=country, created_at=utc_now(), created_by=user.id)
    session.add(site)
    session.flush()
    record(session, ctx, "site.created", "site", site.id, reason=reason,
           changes={key: {"old": None, "new": value} for key, value in site.snapshot().items()})
    return site


def update_site(session: Session, ctx: AuditContext, user: User, site: Site, name: str, timezone: str, country: str,
                reason: str) -> None:
    """A changed name, zone or country; every case of the site then reads its times in the new zone."""
    _require_admin(user)
    _require_reason(reason)
    before = site.snapshot()
    site.name, site.timezone, site.country = _checked(session, name, timezone, country, site)
    after = site.snapshot()
    changes = {key: {"old": before[key], "new": after[key]} for key in after if before[key] != after[key]}
    if changes:
        session.flush()
        record(session, ctx, "site.updated", "site", site.id, reason=reason.strip(), changes=changes)


def add_member(session: Session, ctx: AuditContext, user: User, site: Site, person: User, reason: str) -> None:
    _require_admin(user)
    _require_reason(reason)
    if not person.active:
        raise SiteError(N_("Only active accounts join a site."))
    if current_membership(session, site, person) is not None:
        raise SiteError(N_("%(name)s belongs to %(site)s already."), name=person.printed_name, site=site.name)
    session.add(SiteMember(site_id=site.id, user_id=person.id, added_at=utc_now(), added_by=user.id))
    session.flush()
    record(session, ctx, "site.member_added", "site", site.id, reason=reason.strip(),
           changes={"member": {"old": None, "new": person.username}})


def remove_member(session: Session, ctx: AuditContext, user: User, site: Site, person: User, reason: str) -> None:
    _require_admin(user)
    _require_reason(reason)
    row = current_membership(session, site, person)
    if row is None:
        raise SiteError(N_("%(name)s does not belong to %(site)s."), name=person.printed_name, site=site.name)
    row.removed_at = utc_now()
    row.removed_by = user.id
    session.flush()
    record(session, ctx, "site.member_removed", "site", site.id, reason=reason.strip(),
           changes={"member": {"old": person.username, "new": None}})
