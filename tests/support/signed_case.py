"""A realistic signed OOS case, made through the same operations the pages and the API call.

The people of tests/support/documents.py get full signing rights (identity verified by a second
administrator, the signature policy acknowledged, training for their role) and sign every step of each
document of one case. With three versions per document, version 1 is refused at QA review with a reason,
version 2 is approved and then revised, and version 3 is approved: the history an inspector reviews.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from edms.application import signed_pdfs
from edms.cases.facts import CaseFacts
from edms.cases.operations import create_case
from edms.db import transaction
from edms.documents import models as dm
from edms.documents import operations as documents
from edms.pki import PkiStore
from edms.signatures import operations as signing
from edms.signatures.ceremony import Credentials, SigningEnvironment
from edms.users.models import User
from tests.support.documents import PDF_BYTES, realistic_values, title_for
from tests.support.examples import VALUES
from tests.support.people import PASSWORD, acting, make_ready, new_account

OOS_VALUES = VALUES["oos_notification"]
LOT, PRODUCT, PATIENT = OOS_VALUES["lot"], OOS_VALUES["product"], OOS_VALUES["patient_ref"]
# Two people per signing role, so that no one signs two steps of one version; an administrator who
# verifies identities (one who did not create the accounts, 21 CFR 11.100(b)).
SIGNERS = {
    "author": [("kenji.sato", "Kenji Sato")],
    "qa": [("emi.nakamura", "Emi Nakamura"), ("hiroshi.yamada", "Hiroshi Yamada")],
    "physician": [("haruto.ito", "Dr Haruto Ito"), ("mei.suzuki", "Dr Mei Suzuki")],
    "regulatory": [("aiko.mori", "Aiko Mori"), ("ren.kobayashi", "Ren Kobayashi")],
}
VERIFIER = ("takeshi.ogawa", "Takeshi Ogawa")
DOCUMENT_TYPES = ("oos_notification", "deviation_report", "qa_release")
REFUSAL = "The risk assessment does not cite the viability data of comparable OOS lots: add them."
REVISION = "Risk assessment completed with the outcomes of comparable OOS lots (Pasquini 2020)."


@dataclass
class SignedCase:
    case_id: int
    documents: list[int] = field(default_factory=list)  # ids, in creation order
    numbers: dict[int, str] = field(default_factory=dict)
    signatures: list[str] = field(default_factory=list)  # signature ids


def ensure_signers(services) -> None:
    """Everyone in SIGNERS, ready to sign for their role; the verifying administrator."""
    with transaction(services.sessions) as session:
        if session.scalar(select(User.id).where(User.username == VERIFIER[0])) is not None:
            return
        verifier = new_account(session, services.settings, VERIFIER[0], {"admin"}, printed_name=VERIFIER[1])
        for role, people in SIGNERS.items():
            for username, printed_name in people:
                person = _user(session, username) or new_account(session, services.settings, username, {role},
                                                                 printed_name=printed_name)
                make_ready(session, verifier, person, role, known_types=services.document_types)


def _user(session, username: str) -> User:
    return session.scalar(select(User).where(User.username == username))


def _signer_for(session, step, author_id: int, used: set[int]) -> User:
    for username, _name in SIGNERS[step.roles[0]]:
        user = _user(session, username)
        if user.id in used and not step.allow_same_signer:
            continue
        if user.id == author_id and step.meaning == "approved":
            continue
        return user
    raise AssertionError(f"no one left to sign {step.name}")


def _act(services, document_id: int, action) -> object:
    with transaction(services.sessions) as session:
        document = session.get(dm.Document, document_id)
        return action(session, document)


def _sign_all(services, env, document_id: int, case: SignedCase, *, refuse_at: int | None = None) -> None:
    """Sign every step of the current version in order; at step index `refuse_at`, refuse with a reason."""
    used: set[int] = set()
    doc_type = services.document_types[_act(services, document_id, lambda s, d: d.type_key)]
    for index, step in enumerate(doc_type.steps):
        def act(session, document, step=step, index=index):
            version = document.latest
            signer = _signer_for(session, step, document.owner_id, used)
            used.add(signer.id)
            credentials = Credentials(password=PASSWORD, username=signer.username)
            if index == refuse_at:
                made = signing.reject(session, acting(signer), env, doc_type, signer, document, version, credentials,
                                      reason=REFUSAL)
            else:
                made = signing.sign(session, acting(signer), env, doc_type, signer, document, version, credentials,
                                    comment="Checked against batch record BR-L2026-0412." if index == 0 else None)
            signed_pdfs.seal_final_versions(services, session, acting(signer), document)  # as the use cases do
            return made
        case.signatures.append(_act(services, document_id, act).signature_id)
        if index == refuse_at:
            return


def _submit(services, session, document, author: User) -> None:
    """Submission and the frozen PDF with its signature page, as `edms.application.drafting.submit` does."""
    version = documents.submit(session, acting(author), author, document)
    signed_pdfs.freeze(services, session, acting(author), document, version)


def _revise(services, session, document, author: User, doc_type) -> None:
    documents.revise(session, acting(author), author, doc_type, document, REVISION)
    signed_pdfs.seal_final_versions(services, session, acting(author), document)  # the version superseded


def open_case(services) -> int:
    """The case of lot L2026-0412 for patient PT-7Q4X, opened by QC under the current Japanese regime."""
    with transaction(services.sessions) as session:
        author, physician = _user(session, SIGNERS["author"][0][0]), _user(session, SIGNERS["physician"][0][0])
        return create_case(session, acting(author), author, services.regimes, CaseFacts(
            regime_key="jp_current", product=PRODUCT, lot=LOT, patient_ref=PATIENT,
            treating_site="Kansai University Hospital, Department of Hematology", site_timezone="Asia/Tokyo",
            physician_id=physician.id, oos_detected_at=datetime(2026, 11, 20, 9, 30, tzinfo=ZoneInfo("Asia/Tokyo")),
        )).id


def build_signed_case(services, *, types: tuple[str, ...] = DOCUMENT_TYPES, versions: int = 3,
                      attachment: bool = True) -> SignedCase:
    """A case and its documents, each signed through `versions` versions (see the module's story)."""
    ensure_signers(services)
    env = SigningEnvironment.from_settings(services.settings, blobs=services.blobs)
    case = SignedCase(open_case(services))
    case_id = case.case_id
    created: dict[str, list[str]] = {}  # numbers by type, for the references of later documents
    for key in types:
        doc_type = services.document_types[key]
        author_name = SIGNERS[doc_type.steps[0].roles[0]][0][0]
        refs = {field.name: [number for kind in field.ref_types for number in created.get(kind, [])]
                for field in doc_type.fields if field.type == "document_refs"}
        with transaction(services.sessions) as session:
            author = _user(session, author_name)
            document = documents.create_document(session, acting(author), author, doc_type, title=title_for(doc_type),
                                                 raw_values=realistic_values(doc_type, refs), case_id=case_id)
            if attachment:
                documents.add_attachment(session, acting(author), author, document, services.blobs,
                                         filename=f"release-test-{LOT}.pdf", data=PDF_BYTES)
            case.documents.append(document.id)
            case.numbers[document.id] = document.number
            created.setdefault(key, []).append(document.number)
        for number in range(1, versions + 1):
            _act(services, document.id, lambda s, d, name=author_name: _submit(services, s, d, _user(s, name)))
            last = number == versions
            _sign_all(services, env, document.id, case, refuse_at=1 if number == 1 and not last else None)
            if not last:
                _act(services, document.id, lambda s, d, name=author_name, kind=doc_type: _revise(
                    services, s, d, _user(s, name), kind))
    return case


def build_template(settings, pki_template: Path) -> SignedCase:
    """The signed case, made once into the database and data directory of `settings` so that each test
    starts from a copy of them (tests/conftest.py): the organisation PKI first, as `edms init` leaves it."""
    from edms.app import create_app

    shutil.copytree(pki_template, PkiStore.for_settings(settings).directory)
    app = create_app(settings)
    try:
        return build_signed_case(app.extensions["edms"])
    finally:
        # No connection may stay open: PostgreSQL copies a template database only when nobody uses it.
        app.extensions["edms"].engine.dispose()
