"""What must be in place before a person may sign, and the operations that put it there.

- identity verified by a second administrator, not the one who created the account (21 CFR 11.100(b));
- the organisation's e-signature policy acknowledged, in its current wording (11.10(j));
- a current training record for the role and document type of the step (11.10(i));
- a second factor enrolled where the role requires one (`totp_roles`);
- a password the person chose: no key is ever issued under one an administrator set.

Each missing item is reported separately, in words that say what to do.
"""
from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from edms.audit import AuditContext, record
from edms.audit.models import AuditEvent
from edms.documents.types import SIGNING_ROLES
from edms.errors import N_
from edms.resources import SIGNATURE_POLICY_FILE
from edms.signatures import totp
from edms.signatures.errors import GateRecordRefused
from edms.signatures.models import IdentityVerification, PolicyAcknowledgement, TotpEnrolment, TrainingRecord
from edms.signatures.totp_secrets import seal_secret, secret_of
from edms.timeutil import utc_now
from edms.users.models import User
from edms.users.roles import ADMIN, QA

MAX_TEXT = 2000


@dataclass(frozen=True)
class SignaturePolicy:
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def load_policy(path: Path = SIGNATURE_POLICY_FILE) -> SignaturePolicy:
    return SignaturePolicy(path.read_text("utf-8"))


@dataclass(frozen=True)
class Gate:
    """One missing precondition. `message` is an English msgid with %(name)s placeholders."""

    code: str
    message: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.message % self.params if self.params else self.message


def _current_identity(user: User):
    """Checks that count: for a reactivated account, only those after its deactivation (an earlier check
    vouched for a person who then left)."""
    condition = IdentityVerification.user_id == user.id
    if user.deactivated_at is not None:
        condition = condition & (IdentityVerification.verified_at > user.deactivated_at)
    return condition


def identity_verified(session: Session, user: User) -> bool:
    """A second administrator verified the person's identity (since the account's last deactivation)."""
    return bool(session.scalar(select(exists().where(_current_identity(user)))))


def current_identity_checks(session: Session, user: User) -> list[IdentityVerification]:
    return list(session.scalars(select(IdentityVerification).where(_current_identity(user))
                                .order_by(IdentityVerification.id)))


def policy_acknowledged(session: Session, user: User, policy: SignaturePolicy) -> bool:
    return bool(session.scalar(select(exists().where(
        PolicyAcknowledgement.user_id == user.id, PolicyAcknowledgement.policy_sha256 == policy.sha256))))


def current_training(session: Session, user: User, role: str, document_type: str, today: date) -> TrainingRecord | None:
    return session.scalar(
        select(TrainingRecord)
        .where(*_training_condition(user, role, document_type, today))
        .order_by(TrainingRecord.valid_until.desc())
        .limit(1)
    )


def active_totp(session: Session, user: User) -> TotpEnrolment | None:
    return session.scalar(
        select(TotpEnrolment)
        .where(TotpEnrolment.user_id == user.id, TotpEnrolment.confirmed_at.is_not(None))
        .order_by(TotpEnrolment.confirmed_at.desc(), TotpEnrolment.id.desc())
        .limit(1)
    )


def totp_required(user: User, totp_roles: Collection[str]) -> bool:
    return bool(user.roles & set(totp_roles))


def _training_condition(user: User, role: str, document_type: str, today: date):
    return (TrainingRecord.user_id == user.id, TrainingRecord.role == role,
            or_(TrainingRecord.document_type == document_type, TrainingRecord.document_type.is_(None)),
            TrainingRecord.trained_on <= today, TrainingRecord.valid_until >= today)


def readiness(session: Session, user: User, *, role: str, document_type: str, policy: SignaturePolicy,
              today: date) -> tuple[bool, bool, bool, bool]:
    """(identity verified, policy acknowledged, current training, second factor enrolled), in one query: the
    conditions of `identity_verified`, `policy_acknowledged`, `current_training` and `active_totp`."""
    row = session.execute(select(
        exists().where(_current_identity(user)),
        exists().where(PolicyAcknowledgement.user_id == user.id, PolicyAcknowledgement.policy_sha256 == policy.sha256),
        exists().where(*_training_condition(user, role, document_type, today)),
        exists().where(TotpEnrolment.user_id == user.id, TotpEnrolment.confirmed_at.is_not(None)),
    )).one()
    return bool(row[0]), bool(row[1]), bool(row[2]), bool(row[3])


def missing_gates(session: Session, user: User, *, role: str, document_type: str, policy: SignaturePolicy,
                  totp_roles: Collection[str], today: date | None = None) -> list[Gate]:
    """Everything that stops `user` from signing a step of `role` on `document_type`; empty when ready."""
    today = today or utc_now().date()
    identity, acknowledged, trained, enrolled = readiness(session, user, role=role, document_type=document_type,
                                                          policy=policy, today=today)
    missing = []
    if user.must_change_password:
        missing.append(Gate("password", N_(
            "Change the temporary password an administrator set before you sign: a signing key is only ever "
            "issued under a password you chose.")))
    if not identity:
        missing.append(Gate("identity", N_(
            "Signing is disabled until a second administrator records that your identity was verified "
            "(21 CFR 11.100(b)).")))
    if not acknowledged:
        missing.append(Gate("policy", N_(
            "Read and acknowledge the electronic signature policy before your first signature (21 CFR 11.10(j)).")))
    if not trained:
        missing.append(Gate("training", N_(
            "You have no current training record for signing as %(role)s on %(document_type)s documents "
            "(21 CFR 11.10(i))."), {"role": role, "document_type": document_type}))
    if totp_required(user, totp_roles) and not enrolled:
        missing.append(Gate("totp", N_(
            "Your role signs with a one-time code as a second factor: enrol an authenticator app first.")))
    return missing


# --- the operations that satisfy the gates ---------------------------------------------------------------


def _text(value: str | None, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise GateRecordRefused(N_("%(what)s is required."), what=what)
    if len(value) > MAX_TEXT:
        raise GateRecordRefused(N_("%(what)s is too long (%(n)s characters at most)."), what=what, n=MAX_TEXT)
    return value


def account_creator(session: Session, user: User) -> int | None:
    """Who created the account, from its audit event (None: created at the server's console)."""
    return session.scalar(
        select(AuditEvent.actor_id)
        .where(AuditEvent.action == "user.created", AuditEvent.object_type == "user",
               AuditEvent.object_id == str(user.id))
        .order_by(AuditEvent.seq).limit(1)
    )


def account_reactivator(session: Session, user: User) -> int | None:
    """Who last reactivated the account, from its audit event (None: never reactivated)."""
    return session.scalar(
        select(AuditEvent.actor_id)
        .where(AuditEvent.action == "user.reactivated", AuditEvent.object_type == "user",
               AuditEvent.object_id == str(user.id))
        .order_by(AuditEvent.seq.desc()).limit(1)
    )


def record_identity_verification(session: Session, ctx: AuditContext, verifier: User, subject: User, *,
                                 method: str, evidence: str) -> IdentityVerification:
    """A second administrator confirms who the account holder is, before signing rights (11.100(b))."""
    if not verifier.has_role(ADMIN):
        raise GateRecordRefused(N_("Only an administrator records identity verifications."))
    if verifier.id == subject.id:
        raise GateRecordRefused(N_("Nobody verifies their own identity."))
    if account_creator(session, subject) == verifier.id:
        raise GateRecordRefused(N_(
            "You created this account: a second administrator must verify the person's identity."))
    if account_reactivator(session, subject) == verifier.id:
        raise GateRecordRefused(N_(
            "You reactivated this account: a second administrator must verify the person's identity."))
    if not subject.active:
        raise GateRecordRefused(N_("The account is deactivated."))
    method, evidence = _text(method, "The verification method"), _text(evidence, "The evidence")
    verification = IdentityVerification(user_id=subject.id, verified_by=verifier.id, verified_at=utc_now(),
                                        method=method[:200], evidence=evidence)
    session.add(verification)
    session.flush()
    record(session, ctx, "signature.identity_verified", "user", subject.id, changes={
        "identity_verified": {"old": None, "new": {"method": verification.method, "evidence": evidence,
                                                   "verified_by": verifier.username}}})
    return verification


def acknowledge_policy(session: Session, ctx: AuditContext, user: User, policy: SignaturePolicy) -> PolicyAcknowledgement:
    """The person accepts the current wording of the policy; acknowledging it again changes nothing."""
    existing = session.scalar(select(PolicyAcknowledgement).where(
        PolicyAcknowledgement.user_id == user.id, PolicyAcknowledgement.policy_sha256 == policy.sha256))
    if existing is not None:
        return existing
    acknowledgement = PolicyAcknowledgement(user_id=user.id, policy_sha256=policy.sha256, acknowledged_at=utc_now())
    session.add(acknowledgement)
    session.flush()
    record(session, ctx, "signature.policy_acknowledged", "user", user.id,
           changes={"policy_sha256": {"old": None, "new": policy.sha256}})
    return acknowledgement


def record_training(session: Session, ctx: AuditContext, recorder: User, subject: User, *, role: str,
                    document_type: str | None, known_types: Collection[str], course: str, trained_on: date,
                    valid_until: date) -> TrainingRecord:
    """Administrators or QA record that a person was trained to sign in a role (11.10(i))."""
    if not recorder.has_role(ADMIN, QA):
        raise GateRecordRefused(N_("Only administrators and quality assurance record training."))
    if recorder.id == subject.id:
        raise GateRecordRefused(N_("Nobody records their own training."))
    if role not in SIGNING_ROLES:
        raise GateRecordRefused(N_("'%(role)s' is not a role that signs."), role=role)
    if document_type is not None and document_type not in known_types:
        raise GateRecordRefused(N_("Unknown document type '%(type)s'."), type=document_type)
    if valid_until < trained_on:
        raise GateRecordRefused(N_("The training cannot expire before it took place."))
    if trained_on > utc_now().date():
        raise GateRecordRefused(N_("The training date is in the future."))
    course = _text(course, "The course")
    training = TrainingRecord(user_id=subject.id, role=role, document_type=document_type, course=course[:200],
                              trained_on=trained_on, valid_until=valid_until, recorded_by=recorder.id,
                              recorded_at=utc_now())
    session.add(training)
    session.flush()
    record(session, ctx, "signature.training_recorded", "user", subject.id, changes={"training": {"old": None, "new": {
        "role": role, "document_type": document_type, "course": training.course,
        "trained_on": trained_on.isoformat(), "valid_until": valid_until.isoformat()}}})
    return training


def start_totp_enrolment(session: Session, ctx: AuditContext, user: User, key: bytes) -> TotpEnrolment:
    """A new secret to enter in an authenticator app (stored sealed under `key`); it counts only once
    confirmed with a first code."""
    enrolment = TotpEnrolment(user_id=user.id, sealed_secret=seal_secret(key, user.id, totp.new_secret()),
                              created_at=utc_now())
    session.add(enrolment)
    session.flush()
    record(session, ctx, "signature.totp_enrolment_started", "user", user.id)
    return enrolment


def pending_totp(session: Session, user: User) -> TotpEnrolment | None:
    return session.scalar(
        select(TotpEnrolment)
        .where(TotpEnrolment.user_id == user.id, TotpEnrolment.confirmed_at.is_(None))
        .order_by(TotpEnrolment.id.desc()).limit(1)
    )


def confirm_totp(session: Session, ctx: AuditContext, user: User, code: str, key: bytes) -> TotpEnrolment:
    enrolment = pending_totp(session, user)
    if enrolment is None:
        raise GateRecordRefused(N_("Start an enrolment first."))
    now = utc_now()
    counter = totp.accepted_counter(secret_of(key, enrolment), code, now, last_counter=None)
    if counter is None:
        record(session, ctx, "signature.totp_enrolment_failed", "user", user.id, reason="wrong code")
        raise GateRecordRefused(N_("The code is not correct: check the app's clock and enter the current code."))
    enrolment.confirmed_at = now
    enrolment.last_counter = counter
    record(session, ctx, "signature.totp_enrolled", "user", user.id)
    return enrolment
