"""What a person still holds open, listed before an administrator deactivates them so that each item can be
handed to someone else first: the active cases naming them as treating physician, the records they own that
are not finished (draft, in review, refused), the signing steps waiting for them, and their current or coming
delegations (given or received)."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from edms.application.services import Services
from edms.application.tasks import ACTIVE_CASES, SIGN, Task, tasks_for
from edms.cases import models as cm
from edms.documents import models as dm
from edms.documents.queries import may_author
from edms.timeutil import utc_now
from edms.users.models import User, UserRole
from edms.users.roles import PHYSICIAN
from edms.workflow.models import Delegation

UNFINISHED = (dm.DRAFT, dm.IN_REVIEW, dm.REJECTED)


@dataclass(frozen=True)
class OpenAssignments:
    cases: list[cm.Case] = field(default_factory=list)  # active cases naming the person as treating physician
    documents: list[dm.Document] = field(default_factory=list)  # unfinished records the person owns
    steps: list[Task] = field(default_factory=list)  # signing steps waiting for the person now
    delegations: list[Delegation] = field(default_factory=list)  # current or coming, given or received

    @property
    def count(self) -> int:
        return len(self.cases) + len(self.documents) + len(self.steps) + len(self.delegations)


def open_assignments(services: Services, session: Session, user: User) -> OpenAssignments:
    now = utc_now()
    cases = list(session.scalars(select(cm.Case).where(cm.Case.physician_id == user.id,
                                                       cm.Case.status.in_(ACTIVE_CASES)).order_by(cm.Case.id)))
    documents = list(session.scalars(select(dm.Document).where(dm.Document.owner_id == user.id,
                                                               dm.Document.status.in_(UNFINISHED))
                                     .order_by(dm.Document.id)))
    steps = [task for task in tasks_for(session, user, document_types=services.document_types,
                                        regimes=services.regimes, now=now) if task.kind == SIGN] if user.active else []
    delegations = list(session.scalars(select(Delegation).where(
        or_(Delegation.delegator_id == user.id, Delegation.delegate_id == user.id),
        Delegation.revoked_at.is_(None), Delegation.ends_at > now).order_by(Delegation.starts_at)))
    return OpenAssignments(cases, documents, steps, delegations)


def physicians_instead_of(session: Session, user: User) -> list[User]:
    """Who could become treating physician in place of `user`."""
    return [person for person in session.scalars(
        select(User).join(UserRole).where(UserRole.role == PHYSICIAN, User.active.is_(True), User.id != user.id)
        .distinct().order_by(User.printed_name)) if not person.locked]


def owners_instead_of(services: Services, session: Session, document: dm.Document) -> list[User]:
    """Who could own `document` in its owner's place: active writers of its type."""
    doc_type = services.document_types[document.type_key]
    return [person for person in session.scalars(
        select(User).join(UserRole).where(UserRole.role.in_(doc_type.signing_roles), User.active.is_(True),
                                          User.id != document.owner_id).distinct().order_by(User.printed_name))
            if not person.locked and may_author(person, doc_type)]
