"""Escalating overdue tasks: `edms escalate`, run from cron every few minutes (or by a worker).

A task is overdue when its case has an overdue deadline (application.tasks). Each overdue task is escalated
once per level: at level 1 as soon as it is overdue, at level 2 a day later, at level 3 three days later.
An escalation tells the task's own people, the other holders of the role the task waits for (but for a
physician's task, which stays with the case's physician and their delegates), and QA, by
notification (the outbox, in each recipient's language), and is recorded once (workflow.models.TaskEscalation,
unique per task and level) with its audit event (in English); so running the command again, or from two places
at once, tells nobody twice.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from edms.application.services import Services
from edms.application.tasks import Task, tasks_for
from edms.application.unit_of_work import use_case
from edms.audit import AuditContext
from edms.definitions import LocalizedText
from edms.errors import N_
from edms.notifications.outbox import enqueue
from edms.timeutil import format_in_zone
from edms.users.models import User, UserRole
from edms.users.roles import CONTENT_ROLES, PHYSICIAN, QA
from edms.wording import both
from edms.workflow.operations import escalated_levels, record_escalation

# How long after its due time a task reaches each level (level = index + 1).
LEVELS = (timedelta(0), timedelta(days=1), timedelta(days=3))


@dataclass(frozen=True)
class OverdueTask:
    task: Task
    holders: tuple[User, ...]  # the people whose inbox shows it

    @property
    def key(self) -> str:
        return task_key(self.task)


@dataclass(frozen=True)
class Escalation:
    task_key: str
    level: int
    recipients: tuple[str, ...]  # usernames


def task_key(task: Task) -> str:
    """A task's identity across runs: its kind, case, record, version and step (or type, for one to create)."""
    return ":".join(str(part) for part in (task.kind, task.case_id or "", task.document_id or "", task.version or "",
                                           task.step_name or task.type_key))


def level_of(overdue_by: timedelta) -> int:
    return sum(1 for threshold in LEVELS if overdue_by >= threshold)


def overdue_tasks(services: Services, session: Session, now: datetime) -> list[OverdueTask]:
    """Every overdue task of every active person who does the work, once, with the people who hold it."""
    found: dict[str, tuple[Task, list[User]]] = {}
    people = session.scalars(select(User).join(UserRole).where(UserRole.role.in_(CONTENT_ROLES), User.active.is_(True))
                             .distinct().order_by(User.id))
    for person in people:
        for task in tasks_for(session, person, document_types=services.document_types, regimes=services.regimes,
                              now=now):
            if task.overdue and task.due_at is not None:
                found.setdefault(task_key(task), (task, []))[1].append(person)
    return [OverdueTask(task, tuple(holders)) for task, holders in found.values()]


def _recipients(session: Session, overdue: OverdueTask) -> list[User]:
    """The task's holders, the other holders of its role and QA. A physician's task stays with the physicians
    who hold it (the case's own, or their delegates): other sites' physicians are not told of this case."""
    role = overdue.task.role
    roles = {QA} | ({role} if role and role != PHYSICIAN else set())
    others = session.scalars(select(User).join(UserRole).where(UserRole.role.in_(roles), User.active.is_(True))
                             .distinct().order_by(User.id))
    return _unique([*overdue.holders, *others])


def _unique(people: Iterable[User]) -> list[User]:
    seen: dict[int, User] = {}
    for person in people:
        seen.setdefault(person.id, person)
    return list(seen.values())


def escalate_overdue(services: Services, session: Session, ctx: AuditContext, now: datetime) -> list[Escalation]:
    """Escalate each overdue task at every level it has reached and not yet been escalated at; idempotent."""
    made = []
    for overdue in overdue_tasks(services, session, now):
        assert overdue.task.due_at is not None
        reached = level_of(now - overdue.task.due_at)
        try:
            made.extend(_escalate(services, session, ctx, overdue, reached, now))
        except IntegrityError:
            continue  # another run escalated it at this level a moment ago: told once, as it should be
    return made


def _escalate(services: Services, session: Session, ctx: AuditContext, overdue: OverdueTask, reached: int,
              now: datetime) -> list[Escalation]:
    task = overdue.task
    assert task.due_at is not None
    with use_case(session):
        new = [level for level in range(1, reached + 1) if level not in escalated_levels(session, overdue.key)]
        if not new:
            return []
        people = _recipients(session, overdue)
        usernames = [person.username for person in people]
        what, late, due = _describe(services, task), _hours(now - task.due_at), format_in_zone(task.due_at)
        # The audit trail is English data; the notification is written in each recipient's language.
        reason = f"{what.en} is overdue (due {due}, {late.en} late): escalation level {new[-1]}."
        for level in new:
            record_escalation(session, ctx, task_key=overdue.key, level=level, kind=task.kind, role=task.role,
                              case_id=task.case_id, document_id=task.document_id, due_at=task.due_at, now=now,
                              recipients=usernames, reason=reason)
        enqueue(session, ctx, people, kind="deadline", smtp=services.settings.smtp,
                document_id=task.document_id, case_id=task.case_id,
                subject=both(N_("An overdue task was escalated to level %(level)s: %(task)s."), level=new[-1],
                             task=what),
                body=both(N_("This task is overdue: %(task)s. It was due %(due)s and is %(late)s late; this is "
                             "escalation level %(level)s.\n\nYou are told because you hold this task, hold the role "
                             "it waits for, or are in quality assurance. Open the case in edms to see what is missing "
                             "and who can act."), task=what, due=due, late=late, level=new[-1]))
        return [Escalation(overdue.key, level, tuple(usernames)) for level in new]


def _describe(services: Services, task: Task) -> LocalizedText:
    """The task in a phrase of each language: its step's label, or the name of the record type to create."""
    where = both(N_("case %(case)s"), case=task.case_reference) if task.case_reference else both(N_("no case"))
    if task.kind == "sign" and task.step is not None:
        return both(N_("the step \"%(step)s\" of %(number)s (%(where)s)"), step=task.step, number=task.document_number,
                    where=where)
    if task.kind == "draft":
        return both(N_("the draft %(number)s (%(where)s)"), number=task.document_number, where=where)
    doc_type = services.document_types.get(task.type_key)
    return both(N_("the record \"%(title)s\" to create (%(where)s)"),
                title=doc_type.name if doc_type is not None else task.title, where=where)


def _hours(delta: timedelta) -> LocalizedText:
    hours = int(delta.total_seconds() // 3600)
    if hours >= 24:
        return both(N_("%(days)s d %(hours)s h"), days=hours // 24, hours=hours % 24)
    return both(N_("%(hours)s h %(minutes)s min"), hours=hours, minutes=int(delta.total_seconds() // 60) % 60)
