"""People in the tests: accounts made through the admin page's operation, and made ready to sign.

"Ready to sign" is what edms/signatures/gates.py asks before a signature: identity verified by a second
administrator (21 CFR 11.100(b)), the e-signature policy acknowledged (11.10(j)) and current training for
the role (11.10(i)). The signing key and certificate are issued at the first signature, under the
person's own password (edms/signatures/keys.py), so nothing more is set up here.
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session, sessionmaker

from edms.audit import AuditContext
from edms.config import Settings
from edms.db import transaction
from edms.signatures import gates
from edms.timeutil import utc_now
from edms.users.models import User
from edms.users.operations import create_user
from edms.users.profiles import Profile

PASSWORD = "Correct-Horse-2026!"
TRAINING_COURSE = "SOP QA-014 v3: electronic signatures on OOS records"


def acting(user: User) -> AuditContext:
    """The audit context of `user` acting from the test's client address."""
    return AuditContext(user_id=user.id, user_name=user.printed_name, client_addr="192.0.2.10")


def new_account(session: Session, settings: Settings, username: str, roles: set[str], *,
                printed_name: str | None = None, timezone: str = "Asia/Tokyo", password: str = PASSWORD,
                must_change_password: bool = False) -> User:
    """An account as an administrator creates it (at the console: no administrator is its creator)."""
    return create_user(
        session, AuditContext.system("test setup"), settings.password, username=username,
        profile=Profile(printed_name=printed_name or username.replace(".", " ").title(), timezone=timezone,
                        email=f"{username}@example.org"),
        roles=roles, password=password, must_change_password=must_change_password,
    )


@dataclass
class People:
    """Creates real accounts through the same operation the admin page uses."""

    settings: Settings
    sessions: sessionmaker[Session]

    def make(self, username: str, role: str | set[str], *, printed_name: str | None = None,
             must_change_password: bool = False, timezone: str = "Asia/Tokyo", password: str = PASSWORD) -> User:
        roles = {role} if isinstance(role, str) else set(role)
        with transaction(self.sessions) as session:
            return new_account(session, self.settings, username, roles, printed_name=printed_name,
                               timezone=timezone, password=password, must_change_password=must_change_password)


def verify_identity(session: Session, by: User, person: User) -> None:
    gates.record_identity_verification(
        session, acting(by), by, person, method="In person, photo ID",
        evidence=f"Passport of {person.printed_name} checked against the HR record of user {person.id}")


def acknowledge_policy(session: Session, person: User) -> None:
    gates.acknowledge_policy(session, acting(person), person, gates.load_policy())


def train(session: Session, by: User, person: User, role: str, *, document_type: str | None,
          known_types: Collection[str], trained_on: date | None = None, days_valid: int = 365) -> None:
    trained_on = trained_on or utc_now().date() - timedelta(days=30)
    gates.record_training(session, acting(by), by, person, role=role, document_type=document_type,
                          known_types=known_types, course=TRAINING_COURSE, trained_on=trained_on,
                          valid_until=trained_on + timedelta(days=days_valid))


def make_ready(session: Session, admin: User, person: User, role: str, *, known_types: Collection[str],
               document_type: str | None = None) -> None:
    """Everything the signing gates ask of `person` for `role`, recorded by `admin` (a second administrator:
    not the one who created the account)."""
    verify_identity(session, admin, person)
    acknowledge_policy(session, person)
    train(session, admin, person, role, document_type=document_type, known_types=known_types)
