"""Which signed PDFs the PDF archiver looks at: those of versions in a final state, sealed by a document
time-stamp (B-LTA); each one's newest time-stamp decides whether a new one is due."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.documents import models as dm
from edms.documents.pdf_models import DOCUMENT_TIMESTAMP, SignedPdfRevision

# The states after which a version is never signed again (as `edms.signatures.pdf_operations.FINAL_STATES`).
FINAL_STATES = (dm.APPROVED, dm.REJECTED, dm.WITHDRAWN, dm.SUPERSEDED)


def sealed_pdf_versions(session: Session) -> list[int]:
    """Ids of the versions in a final state whose signed PDF carries a document time-stamp, oldest first."""
    sealed = select(SignedPdfRevision.version_id).where(SignedPdfRevision.kind == DOCUMENT_TIMESTAMP)
    return list(session.scalars(select(dm.DocumentVersion.id).where(
        dm.DocumentVersion.id.in_(sealed), dm.DocumentVersion.status.in_(FINAL_STATES))
        .order_by(dm.DocumentVersion.id)))
