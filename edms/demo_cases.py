"""Demo cases: one realistic OOS case per regime, carried as far as the manufacturer can take it alone.

Figures from published experience (shared/DOMAIN.md): low viability (tisa-cel release ≥ 80 %, OOS lots at
61–79 % with similar outcomes), low dose and low CAR expression are the commonest OOS reasons. For each case
the manufacturer's records are written and signed by the demo people with real keys and time-stamps; the
physician's records are left for the physician to write and sign in the browser.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.application import cases, drafting, signing, signing_rights, sites
from edms.application.services import Services
from edms.audit import AuditContext
from edms.cases import models as cm
from edms.cases.facts import CaseFacts
from edms.documents.types import DocumentType
from edms.signatures import gates
from edms.signatures.ceremony import Credentials
from edms.sites.models import Site
from edms.sites.queries import current_membership, site_by_name
from edms.timeutil import utc_now
from edms.users.models import User
from edms.workflow.refusals import SigningRefused


@dataclass(frozen=True)
class DemoCase:
    regime: str
    product: str
    lot: str
    patient_ref: str
    site: str
    zone: str
    physician: str
    test: str
    method: str
    specification: str
    result: str
    units: str


DEMO_CASES = (
    DemoCase("jp_current", "Autologous anti-CD19 CAR-T (tisagenlecleucel-like), investigational", "L2026-0412",
             "PT-7Q4X", "Osaka University Hospital", "Asia/Tokyo", "yuki.mori", "viability",
             "Flow cytometry, 7-AAD exclusion (SOP-QC-112)", "≥ 80 % viable cells", "72.0", "%"),
    DemoCase("jp_proposed", "Autologous anti-CD19 CAR-T (tisagenlecleucel-like)", "J2026-0088", "PT-JP4821",
             "Kyoto University Hospital", "Asia/Tokyo", "yuki.mori", "viable_car_t_dose",
             "Flow cytometry, CAR+ viable T-cell count (SOP-QC-118)", "0.6–6.0 × 10^8 CAR+ viable T cells", "0.42",
             "× 10^8 cells"),
    DemoCase("us", "Autologous anti-BCMA CAR-T (ciltacabtagene-like)", "U2026-0311", "PT-US0917",
             "MD Anderson Cancer Center, Houston", "America/Chicago", "emily.chen", "car_expression",
             "Flow cytometry, CAR expression (SOP-QC-121)", "≥ 20 % CAR+ of viable T cells", "14.5", "%"),
    DemoCase("eu", "Autologous anti-CD19 CAR-T (axicabtagene-like)", "E2026-0107", "PT-EU3310",
             "Charité – Universitätsmedizin Berlin", "Europe/Berlin", "lukas.weber", "viability",
             "Flow cytometry, 7-AAD exclusion (SOP-QC-112)", "≥ 80 % viable cells", "68.0", "%"),
    DemoCase("us_emergency", "Autologous anti-CD19 CAR-T (lisocabtagene-like)", "U2026-0344", "PT-US1204",
             "MD Anderson Cancer Center, Houston", "America/Chicago", "emily.chen", "viable_car_t_dose",
             "Flow cytometry, CAR+ viable T-cell count (SOP-QC-118)", "0.6–6.0 × 10^8 CAR+ viable T cells", "0.42",
             "× 10^8 cells"),
)

SIGNERS = {"author": "kenji.sato", "qa": ("akiko.tanaka", "hiroshi.yamamoto"), "regulatory": "naoko.ito"}


@dataclass(frozen=True)
class DemoSite:
    name: str
    timezone: str
    country: str
    physicians: tuple[str, ...]


DEMO_SITES = (
    DemoSite("Osaka University Hospital", "Asia/Tokyo", "JP", ("yuki.mori",)),
    DemoSite("Kyoto University Hospital", "Asia/Tokyo", "JP", ("yuki.mori",)),
    DemoSite("MD Anderson Cancer Center, Houston", "America/Chicago", "US", ("emily.chen",)),
    DemoSite("Memorial Sloan Kettering Cancer Center, New York", "America/New_York", "US", ("emily.chen",)),
    DemoSite("Charité – Universitätsmedizin Berlin", "Europe/Berlin", "DE", ("lukas.weber",)),
)


def create_demo_sites(services: Services, session: Session) -> list[Site]:
    """Idempotent: the demo hospitals, created by the demo administrator, and their physicians as members."""
    admin = _user(session, "daisuke.kato")
    made = []
    for demo in DEMO_SITES:
        site = site_by_name(session, demo.name)
        if site is None:
            site = sites.create_site(services, session, _ctx(admin), admin, name=demo.name, timezone=demo.timezone,
                                     country=demo.country)
            made.append(site)
        for username in demo.physicians:
            person = _user(session, username)
            if current_membership(session, site, person) is None:
                sites.add_member(services, session, _ctx(admin), admin, site, person,
                                 "Demo: the physician treats patients at this site")
    return made


def _user(session: Session, username: str) -> User:
    return session.scalars(select(User).where(User.username == username)).one()


def _site(session: Session, name: str) -> Site:
    site = site_by_name(session, name)
    if site is None:
        raise LookupError(f"the demo site {name!r} does not exist")
    return site


def _ctx(user: User) -> AuditContext:
    return AuditContext(user.id, user.printed_name, client_addr="demo")


def make_signers_ready(services: Services, session: Session) -> None:
    """Identity checked by the second administrator, policy acknowledged, training recorded, for every signer."""
    verifier = _user(session, "mariko.hayashi")
    trainer = _user(session, "daisuke.kato")
    policy = gates.load_policy()
    today = utc_now().date()
    for username, role in (("kenji.sato", "author"), ("akiko.tanaka", "qa"), ("hiroshi.yamamoto", "qa"),
                           ("naoko.ito", "regulatory"), ("yuki.mori", "physician"), ("lukas.weber", "physician"),
                           ("emily.chen", "physician")):
        person = _user(session, username)
        if not gates.identity_verified(session, person):
            signing_rights.record_identity(services, session, _ctx(verifier), verifier, person,
                                           method="In person, photo ID",
                                           evidence=f"Passport checked against HR record for {person.printed_name}")
        if not gates.policy_acknowledged(session, person, policy):
            signing_rights.acknowledge_policy(services, session, _ctx(person), person, policy)
        if gates.current_training(session, person, role, "oos_notification", today) is None:
            signing_rights.record_training(services, session, _ctx(trainer), trainer, person, role=role,
                                           document_type=None,
                                           course=f"GMP e-records and OOS compassionate use ({role})",
                                           trained_on=today - timedelta(days=40),
                                           valid_until=today + timedelta(days=325))


def _oos_values(case: DemoCase, detected: datetime) -> dict[str, object]:
    return {
        "product": case.product, "lot": case.lot, "patient_ref": case.patient_ref,
        "tested_on": detected.date().isoformat(), "test": case.test, "method": case.method,
        "specification": case.specification, "result": case.result, "units": case.units, "safety_test": "no",
        "investigation_summary": "Phase I laboratory investigation found no assay or analyst error; the result was "
                                 "confirmed on a retained sample. Apheresis material had low baseline quality.",
        "risk_assessment": "Not a safety specification: sterility, endotoxin and mycoplasma met their limits. Published "
                           "experience shows similar outcomes for comparable OOS lots; re-manufacture would delay "
                           "treatment beyond the patient's window.",
        "recommendation": "The lot may be supplied at the treating physician's request after a patient-level "
                          "benefit-risk assessment and informed consent.",
    }


def _waivable_values(case: DemoCase) -> dict[str, object]:
    return {
        "product": case.product, "mah": "Kansai Regenerative Cell Therapies K.K.",
        "evaluation_system": "OOS evaluation committee (QA, manufacturing, medical safety) assesses every OOS lot "
                             "within 2 working days (SOP-QA-301).",
        "waivable_tests": ["viable_car_t_dose", "viability", "car_expression"],
        "acceptable_ranges": "Dose ≥ 0.2 × 10^8 CAR+ viable T cells; viability ≥ 60 %; CAR expression ≥ 10 %.",
        "never_waived": "Sterility, endotoxin, mycoplasma, identity, replication-competent lentivirus.",
        "notified_to_authority": "yes", "notified_on": "2026-04-01", "notification_reference": "PMDA-2026-CT-0412",
        "effective_from": "2026-04-01",
    }


def _sign_all(services: Services, session: Session, doc_type: DocumentType, document, password: str) -> bool:
    """Every step in order by the demo signer of its role; stops (False) at a gate the regime imposes."""
    used: set[str] = set()
    for step in doc_type.steps:
        candidates = SIGNERS.get(step.roles[0])
        names = candidates if isinstance(candidates, tuple) else (candidates,)
        for _ in range(step.approvals):
            name = next((n for n in names if n and n not in used), None)
            if name is None:
                return False
            user = _user(session, name)
            try:
                signing.sign(services, session, _ctx(user), user, document, document.latest,
                             Credentials(password=password, username=user.username), step=step.name)
            except SigningRefused:
                return False
            used.add(name)
    return True


def create_demo_cases(services: Services, session: Session, password: str) -> list[cm.Case]:
    """Idempotent: a case whose lot exists already is left alone. Everything goes through the use cases,
    so the demo's submissions and signatures notify the next signers as the pages' do."""
    make_signers_ready(services, session)
    create_demo_sites(services, session)
    document_types, regimes = services.document_types, services.regimes
    made = []
    for demo in DEMO_CASES:
        if session.scalar(select(cm.Case).where(cm.Case.lot == demo.lot)) is not None:
            continue
        qa = _user(session, "akiko.tanaka")
        detected = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
        case = cases.open_case(services, session, _ctx(qa), qa, CaseFacts(
            regime_key=demo.regime, product=demo.product, lot=demo.lot, patient_ref=demo.patient_ref,
            site_id=_site(session, demo.site).id, physician_id=_user(session, demo.physician).id,
            oos_detected_at=detected))
        regime = regimes[demo.regime]
        # The title names the failed test by its label, never its key ("OOS: CAR expression", not "car_expression").
        failed = document_types["oos_notification"].field("test").choice_label(demo.test, "en")
        plan = [("oos_notification", "kenji.sato", _oos_values(demo, detected), f"OOS: {failed}, lot {demo.lot}")]
        if any(item.type_key == "waivable_items_list" for item in regime.documents):
            plan.insert(0, ("waivable_items_list", "akiko.tanaka", _waivable_values(demo), "Waivable OOS items"))
        for type_key, author_name, values, title in plan:
            author = _user(session, author_name)
            document = drafting.create_document(services, session, _ctx(author), author, type_key, title=title,
                                                raw_values=values, case_id=case.id)
            drafting.submit(services, session, _ctx(author), author, document)
            if not _sign_all(services, session, document_types[type_key], document, password):
                break
        made.append(case)
    return made
