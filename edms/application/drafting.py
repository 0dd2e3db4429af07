"""Writing a document: create it, save its draft, attach and remove files, submit it for review (which
tells the people who may sign the first steps), revise it as a new version, withdraw it (the owner is told of
both), and an administrator's transfer of its ownership to another writer of its type."""
from __future__ import annotations

from sqlalchemy.orm import Session

from edms.application import case_deadlines, concerned, frozen_renditions, signed_pdfs
from edms.application.notices import announce
from edms.application.routing_health import check_submission
from edms.application.services import Services, retain_until
from edms.application.unit_of_work import use_case
from edms.audit import AuditContext
from edms.cases import models as cm
from edms.cases import operations as case_ops
from edms.cases.requirements import submission_shortfalls, type_in_case
from edms.documents import models as dm
from edms.documents import operations as ops
from edms.documents.types import DocumentType
from edms.timeutil import utc_now
from edms.users.models import User
from edms.workflow.visibility import require_case


def _type_of(services: Services, session: Session, type_key: str, case_id: int | None) -> DocumentType:
    """The record's type as its case sees it: "records relied on" accepts what the case's regime requires."""
    case = session.get(cm.Case, case_id) if case_id is not None else None
    return type_in_case(services.document_types[type_key], case, types=services.document_types,
                        regimes=services.regimes)


def create_document(services: Services, session: Session, ctx: AuditContext, user: User, type_key: str, *,
                    title: str, raw_values: dict[str, object], case_id: int | None = None) -> dm.Document:
    with use_case(session):
        require_case(session, user, case_id)  # a physician writes only in the cases of their sites
        document = ops.create_document(session, ctx, user, _type_of(services, session, type_key, case_id), title=title,
                                       raw_values=raw_values, case_id=case_id)
        case_deadlines.refresh_document(services, session, document)
        return document


def save_draft(services: Services, session: Session, ctx: AuditContext, user: User, document: dm.Document, *,
               title: str, raw_values: dict[str, object]) -> None:
    with use_case(session):
        ops.save_draft(session, ctx, user, _type_of(services, session, document.type_key, document.case_id), document,
                       title=title, raw_values=raw_values)
        case_deadlines.refresh_document(services, session, document)


def attach(services: Services, session: Session, ctx: AuditContext, user: User, document: dm.Document, *,
           filename: str, data: bytes, declared_sha256: str | None = None) -> dm.Attachment:
    """A refused upload (`UploadRefused`) keeps its audit record."""
    case = session.get(cm.Case, document.case_id) if document.case_id is not None else None
    keep = retain_until(services, document.type_key, case.regime_key if case is not None else None, now=utc_now())
    with use_case(session):
        return ops.add_attachment(session, ctx, user, document, services.blobs, filename=filename, data=data,
                                  declared_sha256=declared_sha256, limits=services.upload_limits, retain_until=keep)


def detach(services: Services, session: Session, ctx: AuditContext, user: User, document: dm.Document,
           attachment_id: int) -> None:
    with use_case(session):
        ops.remove_attachment(session, ctx, user, document, attachment_id)


def submit(services: Services, session: Session, ctx: AuditContext, user: User,
           document: dm.Document) -> dm.DocumentVersion:
    """Freeze the draft for review and tell whoever may sign the steps now due. Refused first (audited) when
    the record could never satisfy its case's gate (`check_case_requirements`) or when the people active and
    ready now could not complete its steps (edms.application.routing_health)."""
    with use_case(session):
        check_case_requirements(services, session, ctx, user, document)
        check_submission(services, session, ctx, user, document, now=utc_now())
        version = ops.submit(session, ctx, user, document)
        signed_pdfs.freeze(services, session, ctx, document, version)
        frozen_renditions.queue(services, session, ctx, document)
        case_deadlines.refresh_document(services, session, document)
        announce(session, ctx, services.settings.smtp, services.document_types[document.type_key], document)
    return version


def check_case_requirements(services: Services, session: Session, ctx: AuditContext, user: User,
                            document: dm.Document) -> None:
    """Nobody learns after two signatures that a record can never satisfy the gate it was written for: a
    draft failing its case's requirements on what it is (the committee's review, the authority told) is
    refused at submission, audited. A draft that is frozen or withdrawn is left to `submit` to refuse."""
    if document.status == dm.WITHDRAWN or document.latest.frozen or document.case_id is None:
        return
    reasons = submission_shortfalls(session, document, types=services.document_types, regimes=services.regimes)
    if reasons:
        case = session.get(cm.Case, document.case_id)
        assert case is not None, "submission_shortfalls found the case"
        case_ops.refuse_submission(session, ctx, user, document, case, reasons)


def revise(services: Services, session: Session, ctx: AuditContext, user: User, document: dm.Document,
           reason: str) -> dm.DocumentVersion:
    with use_case(session):
        draft = ops.revise(session, ctx, user, services.document_types[document.type_key], document, reason)
        case_deadlines.refresh_document(services, session, document)
        signed_pdfs.seal_final_versions(services, session, ctx, document)  # the superseded version
        frozen_renditions.queue(services, session, ctx, document)
        concerned.revised(session, ctx, services.settings.smtp, document, user, reason)
    return draft


def withdraw(services: Services, session: Session, ctx: AuditContext, user: User, document: dm.Document,
             reason: str) -> None:
    with use_case(session):
        ops.withdraw(session, ctx, user, document, reason)
        case_deadlines.refresh_document(services, session, document)
        signed_pdfs.seal_final_versions(services, session, ctx, document)
        frozen_renditions.queue(services, session, ctx, document)
        concerned.withdrawn(session, ctx, services.settings.smtp, document, user, reason)


def transfer_ownership(services: Services, session: Session, ctx: AuditContext, actor: User, document: dm.Document,
                       new_owner: User, reason: str) -> None:
    """An administrator hands the document to another active writer of its type; both owners are told."""
    with use_case(session):
        previous = session.get(User, document.owner_id)
        ops.transfer_ownership(session, ctx, actor, services.document_types[document.type_key], document, new_owner,
                               reason)
        concerned.ownership_transferred(session, ctx, services.settings.smtp, document, previous, new_owner, reason)


def edit(services: Services, session: Session, ctx: AuditContext, user: User, document: dm.Document, *,
         title: str, raw_values: dict[str, object], reason: str) -> tuple[dm.DocumentVersion, bool]:
    """Save the draft; if the latest version is frozen, first revise it as a new version (with `reason`).
    Returns the draft and whether it is a new version."""
    doc_type = _type_of(services, session, document.type_key, document.case_id)
    with use_case(session):
        created = document.latest.frozen
        if created:
            ops.revise(session, ctx, user, doc_type, document, reason)
            signed_pdfs.seal_final_versions(services, session, ctx, document)
            frozen_renditions.queue(services, session, ctx, document)
            concerned.revised(session, ctx, services.settings.smtp, document, user, reason)
        draft = ops.save_draft(session, ctx, user, doc_type, document, title=title, raw_values=raw_values)
        case_deadlines.refresh_document(services, session, document)
    return draft, created
