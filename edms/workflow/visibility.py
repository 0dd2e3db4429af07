"""Who sees which cases: the one rule, used by every path that reads or writes a case or a record of one
(pages, API, search, audit viewer, timelines, inspection packages, tasks, notifications).

A physician sees and writes only the cases of the sites they belong to now, the cases they are named on as
treating physician, and, while a delegation from that physician runs, the cases the delegator is named on.
It lives with the routing and the delegations, which decide who may act on a record of a case. QA,
regulatory, manufacturing (who open cases), inspectors and administrators see every case. A record outside
any case is not scoped by site.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, false, or_, select, true
from sqlalchemy.orm import Session

from edms.cases import models as cm
from edms.cases.errors import CaseOutOfScope
from edms.documents import models as dm
from edms.errors import N_
from edms.sites.queries import member_site_ids
from edms.timeutil import utc_now
from edms.users.models import User
from edms.users.roles import ADMIN, AUTHOR, INSPECTOR, PHYSICIAN, QA, REGULATORY
from edms.workflow.models import Delegation

# Roles whose work spans every site.
SEE_EVERY_CASE = (AUTHOR, QA, REGULATORY, INSPECTOR, ADMIN)


def sees_every_case(user: User) -> bool:
    return user.has_role(*SEE_EVERY_CASE)


def visible_cases(user: User) -> ColumnElement[bool]:
    """A condition on `cm.Case`: the cases `user` may see."""
    if sees_every_case(user):
        return true()
    if not user.has_role(PHYSICIAN):
        return false()
    now = utc_now()
    delegators = select(Delegation.delegator_id).where(
        Delegation.delegate_id == user.id, Delegation.role == PHYSICIAN, Delegation.revoked_at.is_(None),
        Delegation.starts_at <= now, Delegation.ends_at > now)
    return or_(cm.Case.physician_id == user.id, cm.Case.site_id.in_(member_site_ids(user.id)),
               cm.Case.physician_id.in_(delegators))


def visible_case_ids(user: User) -> Select[Any]:
    return select(cm.Case.id).where(visible_cases(user))


def visible_documents(user: User) -> ColumnElement[bool]:
    """A condition on `dm.Document`: records outside any case, and the records of the cases `user` sees."""
    if sees_every_case(user):
        return true()
    return or_(dm.Document.case_id.is_(None), dm.Document.case_id.in_(visible_case_ids(user)))


def can_see_case(session: Session, user: User, case: cm.Case | int | None) -> bool:
    """Whether `user` may see (and, with the roles for it, write) `case`; None (no case) is always visible."""
    if case is None or sees_every_case(user):
        return True
    case_id = case if isinstance(case, int) else case.id
    return session.scalar(select(cm.Case.id).where(cm.Case.id == case_id, visible_cases(user))) is not None


def can_see_document(session: Session, user: User, document: dm.Document) -> bool:
    return can_see_case(session, user, document.case_id)


def require_case(session: Session, user: User, case: cm.Case | int | None) -> None:
    """Refuse (as if it did not exist) a case `user` may not see."""
    if not can_see_case(session, user, case):
        raise CaseOutOfScope(N_("No such case."))
