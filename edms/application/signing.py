"""Signing a version and refusing to sign it (21 CFR 11.50, 11.70, 11.200): the signature, then the notices
it implies (the next signers, or the owner on approval or refusal). Pages, API and demo all sign here."""
from __future__ import annotations

from sqlalchemy.orm import Session

from edms.application import case_deadlines, concerned, frozen_renditions, signed_pdfs
from edms.application.notices import announce
from edms.application.services import Services
from edms.application.unit_of_work import use_case
from edms.audit import AuditContext
from edms.cases.models import Case
from edms.documents import models as dm
from edms.signatures import operations as ops
from edms.signatures.ceremony import Credentials
from edms.signatures.models import Signature
from edms.users.models import User
from edms.workflow.visibility import require_case


def sign(services: Services, session: Session, ctx: AuditContext, user: User, document: dm.Document,
         version: dm.DocumentVersion, credentials: Credentials, *, step: str | None = None,
         meaning: str | None = None, comment: str | None = None) -> Signature:
    """Sign the step due; a refusal (`SigningRefused`) keeps only its audit record and failure count."""
    doc_type = services.document_types[document.type_key]
    with use_case(session):
        require_case(session, user, document.case_id)
        made = ops.sign(session, ctx, services.signing_environment(), doc_type, user, document, version, credentials,
                        step=step, meaning=meaning, comment=comment)
        signed_pdfs.seal_final_versions(services, session, ctx, document)
        frozen_renditions.queue(services, session, ctx, document)  # its DOCX, stored by the worker
        announce(session, ctx, services.settings.smtp, doc_type, document, signed_step=made.step)
        case_deadlines.refresh_document(services, session, document)
        _tell_case(services, session, ctx, doc_type, document)
    return made


def refuse(services: Services, session: Session, ctx: AuditContext, user: User, document: dm.Document,
           version: dm.DocumentVersion, credentials: Credentials, *, reason: str,
           step: str | None = None) -> Signature:
    """A signed refusal: the version becomes rejected and its owner is told why."""
    doc_type = services.document_types[document.type_key]
    with use_case(session):
        require_case(session, user, document.case_id)
        made = ops.reject(session, ctx, services.signing_environment(), doc_type, user, document, version,
                          credentials, reason=reason, step=step)
        signed_pdfs.seal_final_versions(services, session, ctx, document)
        frozen_renditions.queue(services, session, ctx, document)  # its DOCX, stored by the worker
        announce(session, ctx, services.settings.smtp, doc_type, document, signed_step=made.step)
        case_deadlines.refresh_document(services, session, document)
        _tell_case(services, session, ctx, doc_type, document)
    return made


def _tell_case(services: Services, session: Session, ctx: AuditContext, doc_type, document: dm.Document) -> None:
    """The people of the case whom an approval or a refusal concerns (its treating physician, QA)."""
    case = session.get(Case, document.case_id) if document.case_id is not None else None
    regime = services.regimes.get(case.regime_key) if case is not None else None
    concerned.signed(session, ctx, services.settings.smtp, doc_type, regime, document, case)
