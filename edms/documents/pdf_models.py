"""The frozen, signed PDF of a version: every revision it ever had, only ever appended to.

At submission the version's PDF is frozen (PDF/A-2b, with a signature page holding one empty signature
field per signature its routing needs) and stored content-addressed in the blob store, like every file.
Each later step (a PAdES signature, validation data in the DSS, a document time-stamp) appends an
incremental update: the new revision's bytes begin with the previous revision's, and each revision is
stored whole under its own SHA-256. A row records each revision's length and hash, so the package
manifest and `edms-verify` can check that every earlier revision is intact.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from edms.db import Base, UTCDateTime

# What a revision added to the PDF.
FROZEN = "frozen"  # the PDF as frozen at submission, with its empty signature fields
LEGACY = "legacy"  # frozen after the fact for a version signed before signed PDFs: lists its signatures
SIGNATURE = "signature"  # a PAdES signature (approval or refusal)
VALIDATION_DATA = "validation_data"  # certificates and CRLs in the Document Security Store (B-LT)
DOCUMENT_TIMESTAMP = "document_timestamp"  # validation data and an RFC 3161 document time-stamp (B-LTA)
REVISION_KINDS = (FROZEN, LEGACY, SIGNATURE, VALIDATION_DATA, DOCUMENT_TIMESTAMP)


class SignedPdfRevision(Base):
    __tablename__ = "signed_pdf_revisions"
    __table_args__ = (UniqueConstraint("version_id", "revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("document_versions.id"), nullable=False, index=True)
    revision: Mapped[int] = mapped_column(Integer, nullable=False)  # 0: the frozen PDF
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)  # of the whole file up to this revision
    length: Mapped[int] = mapped_column(BigInteger, nullable=False)
    signature_id: Mapped[str | None] = mapped_column(String(36))  # the edms signature this revision carries
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
