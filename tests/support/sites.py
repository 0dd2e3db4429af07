"""Sites for tests: made by an administrator through the site operations, with their members."""
from __future__ import annotations

from sqlalchemy import select

from edms.db import transaction
from edms.sites import operations as site_ops
from edms.sites.queries import site_by_name
from edms.users.models import User
from tests.support.people import acting, new_account

SITE_ADMIN = "mariko.hayashi"


def make_site(app, name: str, timezone: str, country: str, members: tuple[str, ...] = ()) -> int:
    """The site `name` (made if missing) with `members` added; its id."""
    services = app.extensions["edms"]
    with transaction(services.sessions) as session:
        admin = session.scalar(select(User).where(User.username == SITE_ADMIN)) or new_account(
            session, services.settings, SITE_ADMIN, {"admin"}, printed_name="Mariko Hayashi")
        site = site_by_name(session, name) or site_ops.create_site(session, acting(admin), admin, name, timezone,
                                                                   country)
        for username in members:
            person = session.scalar(select(User).where(User.username == username))
            site_ops.add_member(session, acting(admin), admin, site, person, "Treats patients at this site")
        return site.id
