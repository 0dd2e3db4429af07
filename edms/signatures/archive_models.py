"""The archive time-stamps of each detached signature (RFC 4998 ArchiveTimeStamps, oldest first).

Append-only (triggers refuse UPDATE and DELETE): the evidence of a signature only ever grows. The
signature's Evidence Record is the chain of its rows' `archive_stamp` values in `seq` order
(`edms.verifier.evidence.encode_evidence_record`); the other columns repeat what the stamp says, for
queries and for the schedule.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from edms.db import Base, UTCDateTime


class ArchiveTimestamp(Base):
    __tablename__ = "archive_timestamps"
    __table_args__ = (UniqueConstraint("signature_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signature_id: Mapped[int] = mapped_column(ForeignKey("signatures.id"), nullable=False, index=True)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)  # 1, 2, ... in the chain
    archive_stamp: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # ArchiveTimeStamp DER
    timestamped_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    tsa_subject: Mapped[str] = mapped_column(String(500), nullable=False)
    # When the chain of this stamp's TSA expires: the next one is due before then.
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
