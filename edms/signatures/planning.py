"""Whether a person may sign a version now, and what the ceremony page shows before anyone types a
password: state, sequence and authority (21 CFR 11.10(f), (g)), the record's prerequisites, the person's
readiness, and which credentials the signature will ask for (11.200(a)(1))."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from edms.definitions import LocalizedText
from edms.documents import models as dm
from edms.documents.types import DocumentType
from edms.errors import N_
from edms.signatures.ceremony import SigningEnvironment
from edms.signatures.errors import AccountLocked
from edms.signatures.gates import Gate, missing_gates, totp_required
from edms.signatures.manifest import SIGNATURE
from edms.signatures.models import Signature
from edms.timeutil import utc_now
from edms.users.models import User
from edms.workflow import routing
from edms.workflow.assignees import named_people
from edms.workflow.delegations import acting_for
from edms.workflow.refusals import AuthorityRefused, SequenceRefused, SigningRefused


@dataclass(frozen=True)
class SigningPlan:
    """What the ceremony page shows before anyone types a password."""

    states: list[routing.StepProgress]
    due: routing.StepProgress | None  # the step this person would sign (or the first open one)
    refusal: SigningRefused | None  # state, sequence or authority
    grounds: routing.Authority | None = None  # the role they sign in, and whom they act for
    missing: list[Gate] = field(default_factory=list)
    username_required: bool = True
    totp_required: bool = False

    @property
    def may_sign(self) -> bool:
        return self.refusal is None and not self.missing


def username_required(session: Session, user: User, session_ref: str | None) -> bool:
    """11.200(a)(1): both components at the first signing of a continuous session, the password after."""
    if session_ref is None:
        return True
    return not session.scalar(select(exists().where(Signature.signer_id == user.id,
                                                    Signature.session_ref == session_ref)))


def signed_steps(session: Session, version: dm.DocumentVersion) -> list[routing.StepSignature]:
    rows = session.execute(
        select(Signature.step, Signature.signer_id)
        .where(Signature.version_id == version.id, Signature.kind == SIGNATURE).order_by(Signature.id)
    ).all()
    return [routing.StepSignature(step, signer_id) for step, signer_id in rows]


def plan(session: Session, env: SigningEnvironment, doc_type: DocumentType, user: User, document: dm.Document,
         version: dm.DocumentVersion, *, session_ref: str | None = None, step: str | None = None) -> SigningPlan:
    signed = signed_steps(session, version)
    states = routing.progress(doc_type.steps, signed)
    current = next((item for item in states if item.due), None)
    try:
        target, grounds = check_may_sign(session, doc_type, user, document, version, signed, step_name=step, meaning=None)
        check_record_gates(session, env, document)
    except SigningRefused as refusal:
        return SigningPlan(states, current, refusal)
    missing = missing_gates(session, user, role=grounds.role, document_type=doc_type.key, policy=env.policy,
                            totp_roles=env.totp_roles)
    return SigningPlan(states, target, None, grounds, missing, username_required(session, user, session_ref),
                       totp_required(user, env.totp_roles))


def check_may_sign(session: Session, doc_type: DocumentType, user: User, document: dm.Document,
                   version: dm.DocumentVersion, signed: list[routing.StepSignature], *, step_name: str | None,
                   meaning: str | None) -> tuple[routing.StepProgress, routing.Authority]:
    """State, sequence and authority: the step `user` may sign now and on what grounds, or the refusal."""
    latest = session.scalar(select(func.max(dm.DocumentVersion.version))
                            .where(dm.DocumentVersion.document_id == document.id))
    _check_state(document, version, latest)
    signer = routing.Signer(user.id, frozenset(user.roles), user.id in (version.created_by, document.owner_id),
                            acting_for(session, user.id, utc_now()))
    named = named_people(session, document)
    target = routing.resolve(doc_type.steps, signed, step_name=step_name, meaning=meaning, signer=signer, named=named)
    if not user.active:
        raise AuthorityRefused(N_("This account is deactivated."))
    if user.locked:
        raise AccountLocked(N_("This account is locked after repeated failed attempts. Ask an administrator to unlock it."))
    grounds = routing.authority(routing.progress(doc_type.steps, signed), target, signer, named)
    return target, grounds


def check_record_gates(session: Session, env: SigningEnvironment, document: dm.Document) -> None:
    """A record whose prerequisites are not approved yet cannot be signed (21 CFR 11.10(f))."""
    reasons = [reason for gate in env.record_gates for reason in gate(session, document)]
    if reasons:
        raise SequenceRefused(N_("This record cannot be signed yet: %(reasons)s"), reasons=LocalizedText.join(reasons))


def _check_state(document: dm.Document, version: dm.DocumentVersion, latest: int | None) -> None:
    if document.status == dm.WITHDRAWN or version.status == dm.WITHDRAWN:
        raise SequenceRefused(N_("The document has been withdrawn: it can no longer be signed."))
    if version.version != latest or version.status == dm.SUPERSEDED:
        raise SequenceRefused(N_("Version %(version)s has been superseded by a newer version: it can no longer be signed."),
                              version=version.version)
    if version.status == dm.APPROVED:
        raise SequenceRefused(N_("This version is already approved: every step is signed."))
    if version.status == dm.REJECTED:
        raise SequenceRefused(N_("This version was refused: its author revises it as a new version."))
    if version.status != dm.IN_REVIEW or not version.frozen:
        raise SequenceRefused(N_("This version is a draft: it can be signed once it is submitted and frozen."))
