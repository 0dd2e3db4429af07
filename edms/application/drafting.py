"""Writing a document: create it, save its draft, attach and remove files, submit it for review (which
tells the people who may sign the first steps), revise it as a new version, withdraw it."""
from __future__ import annotations

from sqlalchemy.orm import Session

from edms.application import signed_pdfs
from edms.application.notices import announce
from edms.application.services import Services
from edms.application.unit_of_work import use_case
from edms.audit import AuditContext
from edms.documents import models as dm
from edms.documents import operations as ops
from edms.users.models import User


def create_document(services: Services, session: Session, ctx: AuditContext, user: User, type_key: str, *,
                    title: str, raw_values: dict[str, object], case_id: int | None = None) -> dm.Document:
    with use_case(session):
        return ops.create_document(session, ctx, user, services.document_types[type_key], title=title,
                                   raw_values=raw_values, case_id=case_id)


def save_draft(services: Services, session: Session, ctx: AuditContext, user: User, document: dm.Document, *,
               title: str, raw_values: dict[str, object]) -> None:
    with use_case(session):
        ops.save_draft(session, ctx, user, services.document_types[document.type_key], document, title=title,
                       raw_values=raw_values)


def attach(services: Services, session: Session, ctx: AuditContext, user: User, document: dm.Document, *,
           filename: str, data: bytes, declared_sha256: str | None = None) -> dm.Attachment:
    """A refused upload (`UploadRefused`) keeps its audit record."""
    with use_case(session):
        return ops.add_attachment(session, ctx, user, document, services.blobs, filename=filename, data=data,
                                  declared_sha256=declared_sha256, limits=services.upload_limits)


def detach(services: Services, session: Session, ctx: AuditContext, user: User, document: dm.Document,
           attachment_id: int) -> None:
    with use_case(session):
        ops.remove_attachment(session, ctx, user, document, attachment_id)


def submit(services: Services, session: Session, ctx: AuditContext, user: User,
           document: dm.Document) -> dm.DocumentVersion:
    """Freeze the draft for review and tell whoever may sign the steps now due."""
    with use_case(session):
        version = ops.submit(session, ctx, user, document)
        signed_pdfs.freeze(services, session, ctx, document, version)
        announce(session, ctx, services.settings.smtp, services.document_types[document.type_key], document)
    return version


def revise(services: Services, session: Session, ctx: AuditContext, user: User, document: dm.Document,
           reason: str) -> dm.DocumentVersion:
    with use_case(session):
        draft = ops.revise(session, ctx, user, services.document_types[document.type_key], document, reason)
        signed_pdfs.seal_final_versions(services, session, ctx, document)  # the superseded version
        return draft


def withdraw(services: Services, session: Session, ctx: AuditContext, user: User, document: dm.Document,
             reason: str) -> None:
    with use_case(session):
        ops.withdraw(session, ctx, user, document, reason)
        signed_pdfs.seal_final_versions(services, session, ctx, document)


def edit(services: Services, session: Session, ctx: AuditContext, user: User, document: dm.Document, *,
         title: str, raw_values: dict[str, object], reason: str) -> tuple[dm.DocumentVersion, bool]:
    """Save the draft; if the latest version is frozen, first revise it as a new version (with `reason`).
    Returns the draft and whether it is a new version."""
    doc_type = services.document_types[document.type_key]
    with use_case(session):
        created = document.latest.frozen
        if created:
            ops.revise(session, ctx, user, doc_type, document, reason)
            signed_pdfs.seal_final_versions(services, session, ctx, document)
        draft = ops.save_draft(session, ctx, user, doc_type, document, title=title, raw_values=raw_values)
    return draft, created
