"""The signed PDF of each version: frozen at submission, signed in each signing ceremony (edms.signatures
.pdf_operations), time-stamped when the version reaches its final state, and frozen after the fact for the
versions submitted before signed PDFs (`edms freeze-legacy-pdfs`)."""
from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.application.services import Services
from edms.application.unit_of_work import use_case
from edms.audit import AuditContext
from edms.crypto.pades import add_document_timestamp
from edms.crypto.pades_validation import PdfSignatureCheck, validate_signed_pdf
from edms.documents import models as dm
from edms.documents.pdf_models import SignedPdfRevision
from edms.documents.pdf_queries import pdf_revisions, signed_pdf
from edms.pki.store import trust_anchors
from edms.signatures import pdf_operations as ops
from edms.signatures.errors import SigningFailed
from edms.signatures.presentation import rendition_signatures

# The reusable B-LTA step, bytes in and bytes out: `add_document_timestamp(pdf, timestamp, certs=, crls=)`.
__all__ = ["SignedPdfView", "add_document_timestamp", "download", "freeze", "freeze_legacy_pdfs", "seal_final_versions",
           "validation"]


def freeze(services: Services, session: Session, ctx: AuditContext, document: dm.Document,
           version: dm.DocumentVersion) -> None:
    """At submission, inside the submitting use case: the version's PDF, frozen with its signature page."""
    ops.freeze_version_pdf(session, ctx, services.blobs, services.document_types[document.type_key], document, version)


def seal_final_versions(services: Services, session: Session, ctx: AuditContext, document: dm.Document) -> int:
    """A document time-stamp (B-LTA) on the PDF of every version of `document` now in a final state that
    has none yet; called by every use case that ends a version. Without a PKI there is nothing to seal
    (no PDF was signed either). Returns how many PDFs were time-stamped."""
    waiting = [version for version in document.versions if version.status in ops.FINAL_STATES]
    if not waiting or session.scalar(select(SignedPdfRevision.id).where(
            SignedPdfRevision.version_id.in_([v.id for v in waiting])).limit(1)) is None:
        return 0
    try:
        authority = services.signing_authority()
    except SigningFailed:
        return 0
    return sum(ops.timestamp_version_pdf(session, ctx, services.blobs, document, version, authority)
               for version in waiting)


def freeze_legacy_pdfs(services: Services, session: Session, ctx: AuditContext) -> int:
    """`edms freeze-legacy-pdfs`: a frozen PDF listing its earlier signatures for every submitted version
    that has none, and its document time-stamp where the version is final. Returns how many were frozen."""
    frozen = 0
    with use_case(session):
        trust = services.trust(session)
        for document in session.scalars(select(dm.Document).order_by(dm.Document.id)):
            doc_type = services.document_types[document.type_key]
            for version in document.versions:
                zone = ops.pdf_locale(session, document)[1]
                signatures = rendition_signatures(session, version, trust, doc_type, zone)
                frozen += ops.freeze_legacy_pdf(session, ctx, services.blobs, doc_type, document, version, signatures)
            seal_final_versions(services, session, ctx, document)
    return frozen


@dataclass(frozen=True)
class SignedPdfView:
    """What the signed-PDF page and the API show: the revisions and each signature's validation, and when it was
    validated."""

    revisions: list[SignedPdfRevision]
    checks: tuple[PdfSignatureCheck, ...]
    size: int
    checked_at: datetime


# pyHanko takes about half a second to validate a PDF's signatures, and the page is opened again and again while a
# record is reviewed: a validation is kept per process for a few minutes, by the exact bytes validated and the
# exact trust anchors (a PDF appended to or a root rolled over is validated afresh), and shown with its time.
VALIDATION_KEPT_FOR = timedelta(minutes=5)


class _Validations:
    """Validations by (PDF's SHA-256, trust anchors): bounded, oldest dropped first; one whose time is not within
    `VALIDATION_KEPT_FOR` before now (or is after now: a clock set back) is made again."""

    def __init__(self, size: int = 128) -> None:
        self._size, self._lock = size, threading.Lock()
        self._kept: dict[tuple[str, tuple[bytes, ...]], tuple[datetime, tuple[PdfSignatureCheck, ...]]] = {}

    def validate(self, pdf: bytes, sha256: str, roots: Sequence[x509.Certificate]
                 ) -> tuple[datetime, tuple[PdfSignatureCheck, ...]]:
        """`pdf`'s validation; `sha256` is its hash, which the blob store checked when it read the bytes."""
        key = (sha256, tuple(root.fingerprint(hashes.SHA256()) for root in roots))
        now = datetime.now(UTC)
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and timedelta(0) <= now - kept[0] < VALIDATION_KEPT_FOR:
            return kept
        made = (now, tuple(validate_signed_pdf(pdf, roots)))
        with self._lock:
            self._kept.pop(key, None)
            if len(self._kept) >= self._size:
                self._kept.pop(next(iter(self._kept)))
            self._kept[key] = made
        return made


VALIDATIONS = _Validations()


def validation(services: Services, session: Session, version: dm.DocumentVersion) -> SignedPdfView | None:
    """The version's signed PDF validated by pyHanko within the last few minutes, the organisation's root the only
    trust anchor; None when the version has no signed PDF."""
    revisions = pdf_revisions(session, version)
    if not revisions:
        return None
    # The newest revision listed is the one read and validated (the store re-hashes it on the way out).
    newest = revisions[-1]
    data = services.blobs.get(newest.sha256)
    anchors = trust_anchors(services.settings)
    if anchors is None:
        return SignedPdfView(revisions, (), len(data), datetime.now(UTC))
    checked_at, checks = VALIDATIONS.validate(data, newest.sha256, anchors.roots)
    return SignedPdfView(revisions, checks, len(data), checked_at)


def validation_revisions(services: Services, session: Session, version: dm.DocumentVersion) -> list[SignedPdfRevision]:
    return pdf_revisions(session, version)


def download(services: Services, session: Session, version: dm.DocumentVersion) -> bytes | None:
    return signed_pdf(session, services.blobs, version)
