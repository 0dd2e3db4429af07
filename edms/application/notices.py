"""Who is told what after a submission or a signature: the people who may sign each step that has just
become due (named people and their delegates included), and the owner when a version is approved or
refused. Notifications go to the outbox in the caller's transaction (edms.notifications)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.audit import AuditContext
from edms.config import SmtpSettings
from edms.documents import models as dm
from edms.documents.types import DocumentType
from edms.errors import N_
from edms.notifications.outbox import enqueue
from edms.signatures.manifest import REJECTION
from edms.signatures.models import Signature
from edms.signatures.planning import signed_steps
from edms.timeutil import utc_now
from edms.users.models import User, UserRole
from edms.users.roles import ROLE_LABELS
from edms.wording import both
from edms.workflow import routing
from edms.workflow.assignees import named_people
from edms.workflow.delegations import acting_for
from edms.workflow.refusals import SigningRefused
from edms.workflow.visibility import can_see_case


def announce(session: Session, ctx: AuditContext, smtp: SmtpSettings, doc_type: DocumentType, document: dm.Document,
             *, signed_step: str | None = None) -> None:
    """After a submission (`signed_step` None) or a signature of `signed_step` on the latest version."""
    version = document.latest
    # Written in each recipient's language (edms.wording.both); every subject reads as a sentence.
    where = both(N_("%(number)s version %(version)s (%(title)s)"), number=document.number, version=version.version,
                 title=version.title)
    owner = session.get(User, document.owner_id)
    if version.status == dm.APPROVED and owner is not None:
        enqueue(session, ctx, [owner], subject=both(N_("%(record)s is approved."), record=where), kind="approved",
                smtp=smtp, document_id=document.id, case_id=document.case_id,
                body=both(N_("Every signing step of %(record)s is complete: the version is approved and effective."),
                          record=where))
    elif version.status == dm.REJECTED and owner is not None:
        refusal = session.scalar(select(Signature).where(Signature.version_id == version.id, Signature.kind == REJECTION)
                                 .order_by(Signature.id.desc()))
        enqueue(session, ctx, [owner], subject=both(N_("%(record)s was refused."), record=where), kind="rejected",
                smtp=smtp, document_id=document.id, case_id=document.case_id,
                body=both(N_("%(record)s was refused with this reason:\n\n%(reason)s\n\n"
                             "Revise it as a new version and submit it again."),
                          record=where, reason=refusal.comment if refusal and refusal.comment else ""))
    elif version.status == dm.IN_REVIEW:
        states = routing.progress(doc_type.steps, signed_steps(session, version))
        for state in _newly_due(states, signed_step):
            people = _who_may_sign(session, document, version, states, state)
            enqueue(session, ctx, people, kind="task", smtp=smtp, document_id=document.id, case_id=document.case_id,
                    subject=both(N_("%(record)s is waiting for your signature (%(step)s)."), record=where,
                                 step=state.step.label),
                    body=both(N_("The step \"%(step)s\" of %(record)s is waiting for your signature. "
                                 "Open your tasks in edms to review the record and sign it."),
                              step=state.step.label, record=where))


def _newly_due(states: list[routing.StepProgress], signed_step: str | None) -> list[routing.StepProgress]:
    due = [state for state in states if state.due]
    if signed_step is None:
        return due
    return [state for state in due if signed_step in state.step.after]


def _who_may_sign(session: Session, document: dm.Document, version: dm.DocumentVersion,
                  states: list[routing.StepProgress], target: routing.StepProgress) -> list[User]:
    named = named_people(session, document)
    now = utc_now()
    candidates = session.scalars(select(User).join(UserRole).where(
        UserRole.role.in_(target.step.roles), User.active.is_(True)).distinct().order_by(User.id))
    people = []
    for person in candidates:
        if not can_see_case(session, person, document.case_id):
            continue  # a physician of another site is not told of (nor may sign in) this case
        signer = routing.Signer(person.id, frozenset(person.roles), person.id in (version.created_by, document.owner_id),
                                acting_for(session, person.id, now))
        try:
            routing.authority(states, target, signer, named)
        except SigningRefused:
            continue
        people.append(person)
    return people


def announce_delegation(session: Session, ctx: AuditContext, smtp: SmtpSettings, row, delegator: User,
                        delegate_to: User) -> None:
    """The delegate learns that, in the period, they may sign the steps naming the absent person."""
    role = both(ROLE_LABELS[row.role]) if row.role in ROLE_LABELS else row.role
    enqueue(session, ctx, [delegate_to], kind="delegation", smtp=smtp,
            subject=both(N_("%(person)s delegated signing steps to you."), person=delegator.printed_name),
            body=both(N_("%(person)s delegated to you, as %(role)s, the signing steps that name them, from %(start)s "
                         "UTC until %(end)s UTC. Reason: %(reason)s. Such tasks appear in your inbox marked "
                         "\"on behalf of\"."), person=delegator.printed_name, role=role,
                      start=f"{row.starts_at:%Y-%m-%d %H:%M}", end=f"{row.ends_at:%Y-%m-%d %H:%M}", reason=row.reason))
