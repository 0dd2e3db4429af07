"""A realistic signing story with real people, keys, certificates and time-stamps.

Lot L2026-0412 of a tisagenlecleucel-like CAR-T product for patient PT-7Q4X fails its release viability
specification (72.0 % against ≥ 80 %). Kenji Sato (QC analyst) writes the OOS notification and signs it
as its author; Akiko Tanaka (Head of QA) reviews it; Hiroshi Yamamoto (QA manager) approves it. Two
administrators, Daisuke Kato and Emi Suzuki, verified everyone's identity; every signer acknowledged the
e-signature policy and holds current training recorded by an administrator.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from edms.application.unit_of_work import command, use_case
from edms.db import transaction
from edms.documents import models as dm
from edms.documents.operations import create_document, submit
from edms.documents.types import DocumentType
from edms.signatures import operations as ops
from edms.signatures.ceremony import Credentials, SigningEnvironment, session_ref_for
from edms.signatures.models import Signature
from edms.users.models import User
from tests.support import people as signing_rights
from tests.support.examples import TITLES, VALUES
from tests.support.people import PASSWORD
from tests.support.people import acting as context

OOS = "oos_notification"
SESSION_REF = session_ref_for("the-signed-in-session-of-the-test")


@dataclass
class SigningStory:
    settings: object
    sessions: sessionmaker[Session]
    document_types: dict[str, DocumentType]
    people: object
    admin: User = field(init=False)
    second_admin: User = field(init=False)
    author: User = field(init=False)
    reviewer: User = field(init=False)
    approver: User = field(init=False)
    document_id: int = field(init=False)

    def cast(self) -> SigningStory:
        make = self.people.make
        self.admin = make("daisuke.kato", "admin", printed_name="Daisuke Kato")
        self.second_admin = make("emi.suzuki", "admin", printed_name="Emi Suzuki")
        self.author = make("kenji.sato", "author", printed_name="Kenji Sato")
        self.reviewer = make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
        self.approver = make("hiroshi.yamamoto", "qa", printed_name="Hiroshi Yamamoto")
        for person, role in ((self.author, "author"), (self.reviewer, "qa"), (self.approver, "qa")):
            self.make_ready(person, role)
        self.document_id = self.new_oos().id
        return self

    # --- signing rights -------------------------------------------------------------------------------

    def verify_identity(self, person: User, by: User | None = None) -> None:
        with transaction(self.sessions) as session:
            signing_rights.verify_identity(session, session.get(User, (by or self.admin).id), session.get(User, person.id))

    def acknowledge_policy(self, person: User) -> None:
        with transaction(self.sessions) as session:
            signing_rights.acknowledge_policy(session, session.get(User, person.id))

    def train(self, person: User, role: str, *, document_type: str | None = OOS, days_valid: int = 365,
              trained_on: date | None = None) -> None:
        with transaction(self.sessions) as session:
            signing_rights.train(session, session.get(User, self.admin.id), session.get(User, person.id), role,
                         document_type=document_type, known_types=self.document_types, trained_on=trained_on,
                         days_valid=days_valid)

    def make_ready(self, person: User, role: str) -> None:
        with transaction(self.sessions) as session:
            signing_rights.make_ready(session, session.get(User, self.admin.id), session.get(User, person.id), role,
                              known_types=self.document_types, document_type=OOS)

    # --- the record -----------------------------------------------------------------------------------

    def new_oos(self, *, submitted: bool = True) -> dm.Document:
        with transaction(self.sessions) as session:
            author = session.get(User, self.author.id)
            document = create_document(session, context(author), author, self.document_types[OOS],
                                       title=TITLES[OOS], raw_values=dict(VALUES[OOS]))
            if submitted:
                submit(session, context(author), author, document)
            return document

    def document(self, document_id: int | None = None) -> dm.Document:
        with self.sessions() as session:
            return session.get(dm.Document, document_id or self.document_id)

    def signatures(self, document_id: int | None = None) -> list[Signature]:
        with self.sessions() as session:
            return list(session.query(Signature).filter(Signature.document_id == (document_id or self.document_id))
                        .order_by(Signature.id))

    def environment(self) -> SigningEnvironment:
        return SigningEnvironment.from_settings(self.settings)

    def sign(self, person: User, *, kind: str = "sign", password: str = PASSWORD, username: str | None = "",
             totp_code: str | None = None, session_ref: str | None = None, step: str | None = None,
             meaning: str | None = None, comment: str | None = None, reason: str | None = None,
             document_id: int | None = None, version: int | None = None) -> Signature:
        """Sign (or refuse) as the page does: a refusal's audit trail is committed, then raised."""
        def act(session: Session) -> Signature:
            user = session.get(User, person.id)
            document = session.get(dm.Document, document_id or self.document_id)
            target = document.version(version) if version else document.latest
            credentials = Credentials(password=password, username=user.username if username == "" else username,
                                          totp_code=totp_code, session_ref=session_ref)
            doc_type = self.document_types[document.type_key]
            if kind == "reject":
                return ops.reject(session, context(user), self.environment(), doc_type, user, document, target,
                                  credentials, reason=reason or "", step=step)
            return ops.sign(session, context(user), self.environment(), doc_type, user, document, target,
                            credentials, step=step, meaning=meaning, comment=comment)
        with command(self.sessions) as session, use_case(session):
            return act(session)

    def sign_through(self, *, document_id: int | None = None) -> list[Signature]:
        """Every step of the OOS notification: authored, reviewed, approved."""
        return [self.sign(self.author, document_id=document_id), self.sign(self.reviewer, document_id=document_id),
                self.sign(self.approver, document_id=document_id)]
