"""Demo data: one realistic person per role, for trying edms out (never for production)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from edms.application import accounts
from edms.application.services import Services
from edms.audit import AuditContext
from edms.users.profiles import Profile
from edms.users.queries import find_user
from edms.users.roles import ADMIN, AUTHOR, INSPECTOR, PHYSICIAN, QA, REGULATORY

DEMO_PASSWORD = "Demo-Pass-2026!"


@dataclass(frozen=True)
class DemoPerson:
    username: str
    printed_name: str
    title: str
    role: str
    timezone: str
    language: str = "en"


DEMO_PEOPLE = (
    DemoPerson("kenji.sato", "Kenji Sato", "QC Analyst, Cell Processing Center", AUTHOR, "Asia/Tokyo"),
    DemoPerson("akiko.tanaka", "Akiko Tanaka", "Head of Quality Assurance", QA, "Asia/Tokyo"),
    DemoPerson("hiroshi.yamamoto", "Hiroshi Yamamoto", "QA Manager, Batch Release", QA, "Asia/Tokyo"),
    DemoPerson("yuki.mori", "Yuki Mori, MD, PhD", "Attending Hematologist, Osaka University Hospital", PHYSICIAN,
               "Asia/Tokyo", "ja"),
    DemoPerson("naoko.ito", "Naoko Ito", "Regulatory Affairs Manager", REGULATORY, "Asia/Tokyo"),
    DemoPerson("john.carter", "John Carter", "Investigator, FDA Office of Regulatory Affairs", INSPECTOR, "America/New_York"),
    DemoPerson("lukas.weber", "Dr. med. Lukas Weber", "Consultant Haematologist, Charité Berlin", PHYSICIAN, "Europe/Berlin"),
    DemoPerson("emily.chen", "Emily Chen, MD", "Cellular Therapy Attending, MD Anderson Cancer Center", PHYSICIAN,
               "America/Chicago"),
    DemoPerson("daisuke.kato", "Daisuke Kato", "IT System Administrator", ADMIN, "Asia/Tokyo"),
    DemoPerson("mariko.hayashi", "Mariko Hayashi", "Computer System Validation Lead (second administrator)", ADMIN,
               "Asia/Tokyo"),
)


def create_demo_users(services: Services, session: Session) -> list[tuple[DemoPerson, bool]]:
    """Create the demo people that do not exist yet; returns (person, created) pairs."""
    ctx = AuditContext.system("edms demo")
    results = []
    for person in DEMO_PEOPLE:
        if find_user(session, person.username) is not None:
            results.append((person, False))
            continue
        accounts.create_account(
            services, session, ctx,
            username=person.username,
            profile=Profile(printed_name=person.printed_name, title=person.title,
                            email=f"{person.username}@example.org", timezone=person.timezone, language=person.language),
            roles={person.role},
            password=DEMO_PASSWORD,
            must_change_password=False,
        )
        results.append((person, True))
    return results
