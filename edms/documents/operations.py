"""Every state change of a document: one function each, audited in the same transaction.

A draft may be edited; submission freezes the version for ever (content, attachments, content hash).
Any later change is a new version with a mandatory reason; earlier versions stay readable.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime

import rfc8785
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from edms.audit import AuditContext, record
from edms.audit.record import diff
from edms.documents import models as m
from edms.documents.blobstore import BlobStore
from edms.documents.errors import (
    DocumentError,
    NotPermitted,
    ReasonRequired,
    UploadRefused,
    ValidationFailed,
    WrongState,
)
from edms.documents.pdf_models import FROZEN, LEGACY, REVISION_KINDS, SignedPdfRevision
from edms.documents.pdf_queries import latest_pdf_revision
from edms.documents.queries import may_author, values_of, version_hash
from edms.documents.types import DocumentType, FieldError
from edms.documents.uploads import (
    DEFAULT_UPLOAD_LIMITS,
    UploadLimits,
    UploadRejected,
    inspect_upload,
)
from edms.errors import N_
from edms.plaintext import UnsafeText, check_text, clean_line
from edms.timeutil import utc_now
from edms.users.models import User
from edms.users.roles import ADMIN


def _content_text(doc_type: DocumentType, values: dict[str, object]) -> str:
    return rfc8785.dumps(doc_type.canonical(values)).decode("utf-8")


def _validate(session: Session, doc_type: DocumentType, title: object, raw: dict[str, object],
              zone: str) -> tuple[str, dict[str, object]]:
    result = doc_type.validate(raw, zone=zone)
    errors = dict(result.errors)
    title = title.strip() if isinstance(title, str) else ""
    if not title:
        errors["title"] = FieldError(N_("A title is required."))
    elif len(title) > 300:
        errors["title"] = FieldError(N_("The title is too long (300 characters at most)."))
    else:
        try:
            title = clean_line(title)  # NFC like the values; no control, bidi or invisible characters
        except UnsafeText as exc:
            errors["title"] = FieldError(exc.message, **exc.params)
    for field in doc_type.fields:
        if field.type == "document_refs" and field.name not in errors:
            numbers = result.values[field.name]
            missing = _unknown_numbers(session, numbers if isinstance(numbers, list) else [])
            if missing:
                errors[field.name] = FieldError(N_("No document has the number %(numbers)s."), numbers=", ".join(missing))
    if errors:
        raise ValidationFailed(errors)
    return title, result.values


def _unknown_numbers(session: Session, numbers: list[str]) -> list[str]:
    """A reference must name a document that exists: a typo would otherwise link a decision to nothing."""
    if not numbers:
        return []
    known = set(session.scalars(select(m.Document.number).where(m.Document.number.in_(numbers))))
    return [number for number in numbers if number not in known]


def next_in_sequence(session: Session, key: str, year: int) -> int:
    """The next number of a yearly sequence (document types, cases), row-locked while it is issued."""
    query = select(m.NumberSequence).where(m.NumberSequence.type_key == key, m.NumberSequence.year == year)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
        if session.scalar(query) is None:
            # The year's first number, asked for by two requests at once: one inserts the row, the other waits
            # for it here and then locks it below (never a unique violation, a 500, for the second).
            session.execute(pg_insert(m.NumberSequence).values(type_key=key, year=year, last=0)
                            .on_conflict_do_nothing(index_elements=["type_key", "year"]))
    # SQLite: the application's transactions begin IMMEDIATE, so writers are already serialised.
    sequence = session.scalar(query)
    if sequence is None:
        sequence = m.NumberSequence(type_key=key, year=year, last=0)
        session.add(sequence)
    sequence.last += 1
    session.flush()
    return sequence.last


def create_document(
    session: Session, ctx: AuditContext, user: User, doc_type: DocumentType, *, title: str,
    raw_values: dict[str, object], case_id: int | None = None,
) -> m.Document:
    if not may_author(user, doc_type):
        raise NotPermitted(N_("Your roles do not allow you to create this type of document."))
    title, values = _validate(session, doc_type, title, raw_values, user.timezone)
    now = utc_now()
    document = m.Document(
        number=doc_type.format_number(now.year, next_in_sequence(session, doc_type.key, now.year)),
        type_key=doc_type.key, title=title, owner_id=user.id,
        status=m.DRAFT, case_id=case_id, created_at=now, current_version=1,
    )
    session.add(document)
    session.flush()
    version = m.DocumentVersion(
        document_id=document.id, version=1, status=m.DRAFT, title=title, content=_content_text(doc_type, values),
        created_by=user.id, created_at=now, updated_at=now, status_changed_at=now,
    )
    session.add(version)
    session.flush()
    session.refresh(document)
    record(session, ctx, "document.created", "document", document.id, document_version=1, case_id=case_id,
           changes=diff({}, {"number": document.number, "title": title, **json.loads(version.content)}))
    return document


_OWNER_ONLY = N_("Only the document's owner may change it; others with a signing role may refuse it. If the owner "
                 "is absent or gone, an administrator can transfer the ownership.")


def _editable_draft(document: m.Document, user: User) -> m.DocumentVersion:
    if document.status == m.WITHDRAWN:
        raise WrongState(N_("The document has been withdrawn."))
    draft = document.latest
    if draft.frozen:
        raise WrongState(N_("This version has been submitted and is frozen: create a new version with a reason."))
    if document.owner_id != user.id:
        raise NotPermitted(_OWNER_ONLY)
    return draft


def save_draft(
    session: Session, ctx: AuditContext, user: User, doc_type: DocumentType, document: m.Document, *,
    title: str, raw_values: dict[str, object],
) -> m.DocumentVersion:
    draft = _editable_draft(document, user)
    title, values = _validate(session, doc_type, title, raw_values, user.timezone)
    before = {"title": draft.title, **values_of(draft)}
    draft.title = title
    draft.content = _content_text(doc_type, values)
    draft.updated_at = utc_now()
    document.title = title
    changes = diff(before, {"title": title, **values_of(draft)})
    if changes:
        record(session, ctx, "document.draft_saved", "document", document.id, document_version=draft.version,
               case_id=document.case_id, changes=changes)
    return draft


def add_attachment(
    session: Session, ctx: AuditContext, user: User, document: m.Document, blobs: BlobStore, *,
    filename: str, data: bytes, declared_sha256: str | None = None, limits: UploadLimits = DEFAULT_UPLOAD_LIMITS,
    retain_until: datetime | None = None,
) -> m.Attachment:
    draft = _editable_draft(document, user)
    try:
        info = inspect_upload(filename, data, max_bytes=limits.max_bytes, max_expanded_bytes=limits.max_expanded_bytes,
                              declared_sha256=declared_sha256)
    except UploadRejected as exc:
        record(session, ctx, "document.attachment_refused", "document", document.id, document_version=draft.version,
               case_id=document.case_id, reason=str(exc))
        raise UploadRefused(exc.message, **exc.params) from exc
    blobs.put(data, retain_until=retain_until)  # before the record: a crash leaves an orphan file, never a gap
    attachment = m.Attachment(
        version_id=draft.id, sha256=info.sha256, display_name=info.safe_display_name, media_type=info.media_type,
        size=info.size, added_by=user.id, added_at=utc_now(),
    )
    session.add(attachment)
    session.flush()
    session.refresh(draft)
    record(session, ctx, "document.attachment_added", "document", document.id, document_version=draft.version,
           case_id=document.case_id,
           changes={"attachment": {"old": None, "new": {"name": info.safe_display_name, "sha256": info.sha256,
                                                       "media_type": info.media_type, "size": info.size}}})
    return attachment


def remove_attachment(session: Session, ctx: AuditContext, user: User, document: m.Document, attachment_id: int) -> None:
    draft = _editable_draft(document, user)
    attachment = next((a for a in draft.attachments if a.id == attachment_id), None)
    if attachment is None:
        raise DocumentError(N_("No such attachment on the current draft."))
    attachment.removed_at = utc_now()
    attachment.removed_by = user.id
    record(session, ctx, "document.attachment_removed", "document", document.id, document_version=draft.version,
           case_id=document.case_id,
           changes={"attachment": {"old": {"name": attachment.display_name, "sha256": attachment.sha256}, "new": None}})


def submit(session: Session, ctx: AuditContext, user: User, document: m.Document) -> m.DocumentVersion:
    """Freeze the draft for ever and send it for review."""
    draft = _editable_draft(document, user)
    now = utc_now()
    draft.content_sha256 = version_hash(document, draft)
    draft.frozen_at = now
    _set_status(draft, m.IN_REVIEW, now)
    document.status = m.IN_REVIEW
    record(session, ctx, "document.submitted", "document", document.id, document_version=draft.version,
           case_id=document.case_id,
           changes={"status": {"old": m.DRAFT, "new": m.IN_REVIEW}, "content_sha256": {"old": None, "new": draft.content_sha256}})
    return draft


def revise(session: Session, ctx: AuditContext, user: User, doc_type: DocumentType, document: m.Document,
           reason: str) -> m.DocumentVersion:
    """A new draft version from the latest frozen one; the reason is mandatory (11.10(e), Annex 11 §9)."""
    if not isinstance(reason, str) or not reason.strip():
        raise ReasonRequired(N_("A reason is required for a new version."))
    try:
        check_text(reason, multi_line=True)  # printed in every rendition of the record
    except UnsafeText as exc:
        raise ReasonRequired(exc.message, **exc.params) from None
    if not may_author(user, doc_type):
        raise NotPermitted(N_("Your roles do not allow you to revise this type of document."))
    if document.owner_id != user.id:
        raise NotPermitted(_OWNER_ONLY)
    if document.status == m.WITHDRAWN:
        raise WrongState(N_("The document has been withdrawn."))
    previous = document.latest
    if not previous.frozen:
        raise WrongState(N_("The current version is still a draft: edit it instead."))
    now = utc_now()
    if previous.status == m.IN_REVIEW:
        _set_status(previous, m.SUPERSEDED, now)
    draft = m.DocumentVersion(
        document_id=document.id, version=previous.version + 1, status=m.DRAFT, title=previous.title,
        content=previous.content, reason=reason.strip(), created_by=user.id, created_at=now, updated_at=now,
        status_changed_at=now,
    )
    session.add(draft)
    session.flush()
    for attachment in previous.attachments:
        session.add(m.Attachment(
            version_id=draft.id, sha256=attachment.sha256, display_name=attachment.display_name,
            media_type=attachment.media_type, size=attachment.size, added_by=user.id, added_at=now,
        ))
    document.current_version = draft.version
    document.status = m.DRAFT
    session.flush()
    session.refresh(document)
    record(session, ctx, "document.revised", "document", document.id, document_version=draft.version,
           case_id=document.case_id, reason=reason.strip(),
           changes={"version": {"old": previous.version, "new": draft.version}})
    return draft


def mark_approved(session: Session, ctx: AuditContext, document: m.Document, version: m.DocumentVersion) -> None:
    """Called by the workflow once every required signature is present: the version becomes effective."""
    now = utc_now()
    for other in document.versions:
        if other.status == m.APPROVED and other.id != version.id:
            _set_status(other, m.SUPERSEDED, now)
    _set_status(version, m.APPROVED, now)
    document.status = m.APPROVED
    record(session, ctx, "document.approved", "document", document.id, document_version=version.version,
           case_id=document.case_id, changes={"status": {"old": m.IN_REVIEW, "new": m.APPROVED}})


def mark_rejected(session: Session, ctx: AuditContext, document: m.Document, version: m.DocumentVersion, reason: str) -> None:
    """A refusal to sign sends the version back: it stays readable as rejected, the author revises it."""
    now = utc_now()
    _set_status(version, m.REJECTED, now)
    document.status = m.REJECTED
    record(session, ctx, "document.rejected", "document", document.id, document_version=version.version,
           case_id=document.case_id, reason=reason, changes={"status": {"old": m.IN_REVIEW, "new": m.REJECTED}})


def withdraw(session: Session, ctx: AuditContext, user: User, document: m.Document, reason: str) -> None:
    if not isinstance(reason, str) or not reason.strip():
        raise ReasonRequired(N_("A reason is required to withdraw a document."))
    if document.status == m.WITHDRAWN:
        raise WrongState(N_("The document has been withdrawn."))
    if document.owner_id != user.id and not user.has_role("qa"):
        raise NotPermitted(N_("Only the document's owner or QA may withdraw it."))
    now = utc_now()
    old = document.status
    for version in document.versions:
        if version.status in (m.DRAFT, m.IN_REVIEW):
            _set_status(version, m.WITHDRAWN, now)
    document.status = m.WITHDRAWN
    record(session, ctx, "document.withdrawn", "document", document.id, document_version=document.current_version,
           case_id=document.case_id, reason=reason.strip(), changes={"status": {"old": old, "new": m.WITHDRAWN}})


def transfer_ownership(session: Session, ctx: AuditContext, actor: User, doc_type: DocumentType, document: m.Document,
                       new_owner: User, reason: str) -> None:
    """An administrator hands an absent or departed owner's document to another active writer of its type
    (administrators never author: PIC/S PI 041 §9.5). The new owner edits the open draft and revises."""
    if not actor.has_role(ADMIN):
        raise NotPermitted(N_("Only an administrator transfers the ownership of a document."))
    if not isinstance(reason, str) or not reason.strip():
        raise ReasonRequired(N_("A reason is required to transfer the ownership."))
    try:
        check_text(reason, multi_line=True)
    except UnsafeText as exc:
        raise ReasonRequired(exc.message, **exc.params) from None
    if document.status == m.WITHDRAWN:
        raise WrongState(N_("The document has been withdrawn."))
    if new_owner.id == document.owner_id:
        raise DocumentError(N_("%(name)s already owns this document."), name=new_owner.printed_name)
    if not may_author(new_owner, doc_type) or new_owner.locked:
        raise NotPermitted(N_("%(name)s cannot own this document: the new owner must be an active account whose roles "
                              "write this type of document."), name=new_owner.printed_name)
    previous = session.get(User, document.owner_id)
    document.owner_id = new_owner.id
    record(session, ctx, "document.owner_transferred", "document", document.id,
           document_version=document.current_version, case_id=document.case_id, reason=reason.strip(),
           changes={"owner": {"old": previous.username if previous else None, "new": new_owner.username}})


def _set_status(version: m.DocumentVersion, status: str, now) -> None:
    version.status = status
    version.status_changed_at = now


def append_pdf_revision(session: Session, ctx: AuditContext, blobs: BlobStore, document: m.Document,
                        version: m.DocumentVersion, data: bytes, kind: str, *,
                        signature_id: str | None = None, reason: str | None = None) -> SignedPdfRevision:
    """Store the version's signed PDF as it now is, one revision further. The PDF is only ever appended
    to: the new bytes must begin with the whole previous revision, or nothing is stored. `reason`: why the
    revision was added, when it is not self-evident (an archive document time-stamp says what was due)."""
    if kind not in REVISION_KINDS:
        raise ValueError(f"unknown kind of PDF revision {kind!r}")
    previous = latest_pdf_revision(session, version)
    if previous is None and kind not in (FROZEN, LEGACY):
        raise WrongState(N_("This version has no frozen PDF to add to."))
    if previous is not None and (len(data) <= previous.length
                                 or hashlib.sha256(data[:previous.length]).hexdigest() != previous.sha256):
        raise WrongState(N_("The signed PDF may only be appended to: the new revision does not begin with the "
                            "previous one, so nothing was stored."))
    row = SignedPdfRevision(
        version_id=version.id, revision=0 if previous is None else previous.revision + 1, kind=kind,
        sha256=blobs.put(data), length=len(data), signature_id=signature_id, created_at=utc_now(),
    )
    session.add(row)
    session.flush()
    record(session, ctx, "document.pdf_revision", "document", document.id, document_version=version.version,
           case_id=document.case_id, reason=reason, changes={"signed_pdf": {
               "old": None if previous is None else {"revision": previous.revision, "sha256": previous.sha256,
                                                     "length": previous.length},
               "new": {"revision": row.revision, "kind": kind, "sha256": row.sha256, "length": row.length,
                       "signature_id": signature_id}}})
    return row
