"""Reading a version's signed PDF: its revisions, and the bytes of the newest (or of any) revision."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.documents import models as m
from edms.documents.blobstore import BlobStore
from edms.documents.pdf_models import DOCUMENT_TIMESTAMP, SignedPdfRevision


def pdf_revisions(session: Session, version: m.DocumentVersion) -> list[SignedPdfRevision]:
    """Every revision of the version's signed PDF, the frozen one first; empty if it has none."""
    return list(session.scalars(select(SignedPdfRevision).where(SignedPdfRevision.version_id == version.id)
                                .order_by(SignedPdfRevision.revision)))


def latest_pdf_revision(session: Session, version: m.DocumentVersion) -> SignedPdfRevision | None:
    return session.scalar(select(SignedPdfRevision).where(SignedPdfRevision.version_id == version.id)
                          .order_by(SignedPdfRevision.revision.desc()).limit(1))


def signed_pdf(session: Session, blobs: BlobStore, version: m.DocumentVersion) -> bytes | None:
    """The signed PDF as it is now (its newest revision), re-hashed on the way out; None if it has none."""
    latest = latest_pdf_revision(session, version)
    return None if latest is None else blobs.get(latest.sha256)


def frozen_pdf_sha256(session: Session, version: m.DocumentVersion) -> str | None:
    """The SHA-256 of the PDF as frozen at submission: what every signature's manifest names."""
    return session.scalar(select(SignedPdfRevision.sha256).where(
        SignedPdfRevision.version_id == version.id, SignedPdfRevision.revision == 0))


def has_document_timestamp(session: Session, version: m.DocumentVersion) -> bool:
    return session.scalar(select(SignedPdfRevision.id).where(
        SignedPdfRevision.version_id == version.id, SignedPdfRevision.kind == DOCUMENT_TIMESTAMP).limit(1)) is not None
