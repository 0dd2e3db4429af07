"""Who else is told of a change to a record or a case (beyond the next signers, edms.application.notices):

- the owner, of every revision, refusal, approval and withdrawal of their records and of an ownership
  transfer (approval and refusal are told by `notices.announce`; the rest here);
- the case's treating physician, of the QA release decision and of every refusal in their case, of the
  case's status changes and of being named on (or taken off) a case;
- QA, of the physician's decisions (records of a case whose steps a physician signs) once approved or refused.

Texts are English msgids (`N_`) with named placeholders, written in each recipient's language
(`edms.wording.both`: status words and record descriptions too); every subject reads as a sentence.
Notifications go to the outbox in the caller's transaction (edms.notifications)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from edms.audit import AuditContext
from edms.cases import models as cm
from edms.cases.regimes import Regime
from edms.config import SmtpSettings
from edms.definitions import LocalizedText
from edms.documents import models as dm
from edms.documents.types import DocumentType
from edms.errors import N_
from edms.notifications.outbox import enqueue, notify_users_with_roles
from edms.users.models import User
from edms.users.roles import PHYSICIAN, QA
from edms.wording import both

# How a case's status reads in a sentence ("case CASE-2026-0001 is now released").
CASE_STATUS_WORDS = {cm.OPEN: N_("open"), cm.RELEASED: N_("released"), cm.CLOSED: N_("closed"),
                     cm.CANCELLED: N_("cancelled")}


def _where(document: dm.Document, version: dm.DocumentVersion | None = None) -> LocalizedText:
    version = version or document.latest
    return both(N_("%(number)s version %(version)s (%(title)s)"), number=document.number, version=version.version,
                title=version.title)


def _status(status: str) -> LocalizedText | str:
    """A case status as a word of the reader's language."""
    return both(CASE_STATUS_WORDS[status]) if status in CASE_STATUS_WORDS else status


def _person(session: Session, user_id: int | None) -> User | None:
    return session.get(User, user_id) if user_id is not None else None


def revised(session: Session, ctx: AuditContext, smtp: SmtpSettings, document: dm.Document, actor: User,
            reason: str) -> None:
    """The owner learns of every new version of their record (a receipt when they made it themselves)."""
    owner = _person(session, document.owner_id)
    if owner is None:
        return
    where = _where(document)
    enqueue(session, ctx, [owner], kind="revised", smtp=smtp, document_id=document.id, case_id=document.case_id,
            subject=both(N_("A new version of %(where)s was created."), where=where),
            body=both(N_("%(actor)s created the new version %(where)s with this reason:\n\n%(reason)s"),
                      actor=actor.printed_name, where=where, reason=reason.strip()))


def withdrawn(session: Session, ctx: AuditContext, smtp: SmtpSettings, document: dm.Document, actor: User,
              reason: str) -> None:
    """The owner (and, for a record of a case, its treating physician) learn that a record was withdrawn."""
    owner = _person(session, document.owner_id)
    where = f"{document.number} ({document.title})"
    text = {"actor": actor.printed_name, "where": where, "reason": reason.strip()}
    people = [owner] if owner is not None else []
    case = session.get(cm.Case, document.case_id) if document.case_id is not None else None
    physician = _person(session, case.physician_id) if case is not None else None
    if physician is not None:
        people.append(physician)
    enqueue(session, ctx, people, kind="withdrawn", smtp=smtp, document_id=document.id, case_id=document.case_id,
            subject=both(N_("%(where)s was withdrawn."), **text),
            body=both(N_("%(actor)s withdrew %(where)s with this reason:\n\n%(reason)s"), **text))


def ownership_transferred(session: Session, ctx: AuditContext, smtp: SmtpSettings, document: dm.Document,
                          previous: User | None, new_owner: User, reason: str) -> None:
    """The new owner learns the record is now theirs to revise; the previous owner, that it no longer is."""
    where = f"{document.number} ({document.title})"
    text = {"where": where, "reason": reason.strip(), "name": new_owner.printed_name}
    enqueue(session, ctx, [new_owner], kind="ownership", smtp=smtp, document_id=document.id, case_id=document.case_id,
            subject=both(N_("You are now the owner of %(where)s."), **text),
            body=both(N_("An administrator made you the owner of %(where)s with this reason:\n\n%(reason)s\n\n"
                         "You now edit its draft and create its new versions."), **text))
    if previous is not None:
        enqueue(session, ctx, [previous], kind="ownership", smtp=smtp, document_id=document.id,
                case_id=document.case_id,
                subject=both(N_("%(where)s now belongs to %(name)s."), **text),
                body=both(N_("An administrator made %(name)s the owner of %(where)s with this reason:\n\n%(reason)s"),
                          **text))


def signed(session: Session, ctx: AuditContext, smtp: SmtpSettings, doc_type: DocumentType, regime: Regime | None,
           document: dm.Document, case: cm.Case | None) -> None:
    """After a signature or a refusal: the people of the case whom the version's approval or refusal concerns
    (the owner is told by `notices.announce`)."""
    version = document.latest
    if case is None or version.status not in (dm.APPROVED, dm.REJECTED):
        return
    where = _where(document, version)
    text: dict[str, object] = {"where": where, "case": case.reference}
    approved = version.status == dm.APPROVED
    physician = _person(session, case.physician_id)
    if physician is not None and physician.id != document.owner_id and (
            not approved or (regime is not None and document.type_key == regime.release)):
        enqueue(session, ctx, [physician], kind="approved" if approved else "rejected", smtp=smtp,
                document_id=document.id, case_id=case.id,
                subject=both(N_("%(where)s of case %(case)s was approved.") if approved
                             else N_("%(where)s of case %(case)s was refused."), **text),
                body=both(N_("Every signing step of %(where)s, in your case %(case)s, is complete: the version is "
                             "approved and effective.") if approved
                          else N_("A signer refused %(where)s, in your case %(case)s. Its owner revises it; "
                                  "the case's checklist shows what is still open."), **text))
    if PHYSICIAN in doc_type.signing_roles:
        notify_users_with_roles(
            session, ctx, [QA], kind="approved" if approved else "rejected", smtp=smtp, document_id=document.id,
            case_id=case.id, exclude_ids=[document.owner_id],
            subject=both(N_("The physician's record %(where)s of case %(case)s was approved.") if approved
                         else N_("The physician's record %(where)s of case %(case)s was refused."), **text),
            body=both(N_("%(where)s, a decision of the treating physician in case %(case)s, is approved and "
                         "effective.") if approved else
                      N_("%(where)s, a decision of the treating physician in case %(case)s, was refused."), **text))


def case_status_changed(session: Session, ctx: AuditContext, smtp: SmtpSettings, case: cm.Case, actor: User,
                        old: str, new: str, reason: str) -> None:
    """The treating physician learns that their case was released, cancelled, closed or reopened."""
    physician = _person(session, case.physician_id)
    if physician is None or physician.id == actor.id:
        return
    text = {"case": case.reference, "old": _status(old), "new": _status(new), "actor": actor.printed_name,
            "reason": reason.strip()}
    enqueue(session, ctx, [physician], kind="case", smtp=smtp, case_id=case.id,
            subject=both(N_("Case %(case)s is now %(new)s."), **text),
            body=both(N_("%(actor)s changed the status of your case %(case)s from %(old)s to %(new)s with this "
                         "reason:\n\n%(reason)s"), **text))


def physician_changed(session: Session, ctx: AuditContext, smtp: SmtpSettings, case: cm.Case,
                      previous: User | None, new: User, reason: str) -> None:
    """The newly named treating physician, and the one taken off, learn of the change."""
    text = {"case": case.reference, "name": new.printed_name, "reason": reason.strip()}
    enqueue(session, ctx, [new], kind="case", smtp=smtp, case_id=case.id,
            subject=both(N_("You are now the treating physician of case %(case)s."), **text),
            body=both(N_("An administrator named you the treating physician of case %(case)s with this reason:\n\n"
                         "%(reason)s"), **text))
    if previous is not None:
        enqueue(session, ctx, [previous], kind="case", smtp=smtp, case_id=case.id,
                subject=both(N_("%(name)s is now the treating physician of case %(case)s."), **text),
                body=both(N_("An administrator named %(name)s the treating physician of case %(case)s in your place, "
                             "with this reason:\n\n%(reason)s"), **text))
