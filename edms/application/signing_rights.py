"""What makes a person ready to sign: identity verification, policy acknowledgement, training, and the
second factor (21 CFR 11.100(b), 11.10(i), 11.300)."""
from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from edms.application.reauthentication import confirm_identity
from edms.application.services import Services
from edms.application.unit_of_work import use_case
from edms.audit import AuditContext
from edms.signatures import gates
from edms.signatures.models import IdentityVerification, PolicyAcknowledgement, TotpEnrolment, TrainingRecord
from edms.signatures.totp_secrets import sealing_key
from edms.users.models import User


def acknowledge_policy(services: Services, session: Session, ctx: AuditContext, user: User,
                       policy: gates.SignaturePolicy) -> PolicyAcknowledgement:
    with use_case(session):
        return gates.acknowledge_policy(session, ctx, user, policy)


def start_totp_enrolment(services: Services, session: Session, ctx: AuditContext, user: User) -> TotpEnrolment:
    with use_case(session):
        return gates.start_totp_enrolment(session, ctx, user, sealing_key(services.settings))


def confirm_totp(services: Services, session: Session, ctx: AuditContext, user: User, code: str, *,
                 password: str | None) -> TotpEnrolment:
    """The new second factor takes effect: confirmed with the person's password first (a wrong one is refused,
    audited and counted towards lockout); a wrong code is refused and audited (`GateRecordRefused` keeps its record)."""
    with use_case(session):
        confirm_identity(services, session, ctx, user, password, act="a second-factor enrolment")
        return gates.confirm_totp(session, ctx, user, code, sealing_key(services.settings))


def record_identity(services: Services, session: Session, ctx: AuditContext, verifier: User, subject: User, *,
                    method: str, evidence: str) -> IdentityVerification:
    with use_case(session):
        return gates.record_identity_verification(session, ctx, verifier, subject, method=method, evidence=evidence)


def record_training(services: Services, session: Session, ctx: AuditContext, recorder: User, subject: User, *,
                    role: str, document_type: str | None, course: str, trained_on: date,
                    valid_until: date) -> TrainingRecord:
    with use_case(session):
        return gates.record_training(session, ctx, recorder, subject, role=role, document_type=document_type,
                                     known_types=services.document_types, course=course, trained_on=trained_on,
                                     valid_until=valid_until)
