"""Who is active and ready to sign now, as `edms.workflow.completability` needs it, and the completability
of a version (or of a draft about to be submitted) read from the database.

Ready means what only somebody else can put right: an active, unlocked account whose access has not
expired, an identity checked by a second administrator (21 CFR 11.100(b)), current training for the role
and document type (11.10(i)), and a signing certificate that is not revoked pending a new password
(11.300(c)). What the person does for themselves at their first signature (acknowledging the policy,
enrolling a second factor, choosing their own password) never makes a record stuck.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from edms.definitions import LocalizedText
from edms.documents import models as dm
from edms.documents.types import DocumentType
from edms.signatures.gates import current_training, identity_verified
from edms.signatures.models import SigningCredential
from edms.signatures.planning import signed_steps
from edms.users.models import User, UserRole
from edms.workflow import completability as c
from edms.workflow.assignees import named_people
from edms.workflow.delegations import acting_for


class Readiness:
    """Readiness facts read once per person, role and type within one call (a list of stuck records reads
    the same people for many versions)."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session, self.now = session, now
        self._people: dict[tuple[int, str], c.Person] = {}
        self._holders: dict[frozenset[str], list[User]] = {}

    def holders(self, roles: frozenset[str]) -> list[User]:
        if roles not in self._holders:
            self._holders[roles] = list(self.session.scalars(
                select(User).where(User.id.in_(select(UserRole.user_id).where(UserRole.role.in_(sorted(roles)))))
                .order_by(User.id)))
        return self._holders[roles]

    def person(self, user: User, doc_type: DocumentType) -> c.Person:
        key = (user.id, doc_type.key)
        if key not in self._people:
            roles = frozenset(user.roles)
            unready = {role: self.problems(user, role, doc_type) for role in sorted(roles & doc_type.signing_roles)}
            self._people[key] = c.Person(user.id, user.printed_name, roles, acting_for(self.session, user.id, self.now),
                                         unready)
        return self._people[key]

    def problems(self, user: User, role: str, doc_type: DocumentType) -> tuple[c.Reason, ...]:
        reasons = []
        if not user.active:
            reasons.append(c.Reason(c.INACTIVE, LocalizedText("the account is deactivated", "アカウントが無効化されています")))
        elif user.access_expires_at is not None and user.access_expires_at <= self.now:
            reasons.append(c.Reason(c.INACTIVE, LocalizedText("the account's access has expired",
                                                               "アカウントのアクセス期限が切れています")))
        if user.locked:
            reasons.append(c.Reason(c.LOCKED, LocalizedText("the account is locked", "アカウントがロックされています")))
        if not identity_verified(self.session, user):
            reasons.append(c.Reason(c.IDENTITY, LocalizedText("no identity check by a second administrator is recorded",
                                                       "別の管理者による本人確認が記録されていません")))
        if current_training(self.session, user, role, doc_type.key, self.now.date()) is None:
            label, name = c.roles_text((role,)), doc_type.name
            reasons.append(c.Reason(c.TRAINING, LocalizedText(f"no current training as {label.en} on {name.en} records",
                                                              f"{name.ja}の{label.ja}としての有効な教育訓練がありません")))
        if self.certificate_revoked(user):
            reasons.append(c.Reason(c.CERTIFICATE, LocalizedText(
                "the signing certificate was revoked, and no new one is issued before a new password is chosen",
                "署名用証明書が失効しており、新しいパスワードが設定されるまで新しい証明書は発行されません")))
        return tuple(reasons)

    def certificate_revoked(self, user: User) -> bool:
        if not user.must_change_password:
            return False  # a new certificate is issued at the next signature, under the person's own password
        revoked = self.session.scalar(select(exists().where(
            SigningCredential.user_id == user.id, SigningCredential.revoked_at.is_not(None))))
        current = self.session.scalar(select(exists().where(
            SigningCredential.user_id == user.id, SigningCredential.revoked_at.is_(None),
            SigningCredential.not_after > self.now)))
        return bool(revoked) and not current

    def people(self, doc_type: DocumentType) -> list[c.Person]:
        return [self.person(user, doc_type) for user in self.holders(doc_type.signing_roles)]


def version_completability(session: Session, doc_type: DocumentType, document: dm.Document,
                           version: dm.DocumentVersion, *, now: datetime,
                           readiness: Readiness | None = None) -> c.Completability:
    """Can every remaining step of this submitted version still be completed by the people ready now?"""
    readiness = readiness or Readiness(session, now)
    return c.analyse(doc_type.steps, signed_steps(session, version), readiness.people(doc_type),
                     author_ids=frozenset(i for i in (version.created_by, document.owner_id) if i is not None),
                     named=named_people(session, document))


def submission_completability(session: Session, doc_type: DocumentType, document: dm.Document, author: User, *,
                              now: datetime) -> c.Completability:
    """Could a version written by `author` be completed, from its first step, by the people ready now?"""
    return c.analyse(doc_type.steps, (), Readiness(session, now).people(doc_type),
                     author_ids=frozenset(i for i in (author.id, document.owner_id) if i is not None),
                     named=named_people(session, document))
