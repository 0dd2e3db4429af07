"""The audit tables: events (hash-chained), signed checkpoints of the chain head, periodic reviews.

All three are append-only: triggers refuse UPDATE and DELETE.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from edms.db import Base, UTCDateTime


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_object", "object_type", "object_id"),)

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_name: Mapped[str] = mapped_column(String(200), nullable=False)
    action: Mapped[str] = mapped_column(String(80), nullable=False, index=True)
    object_type: Mapped[str] = mapped_column(String(60), nullable=False)
    object_id: Mapped[str | None] = mapped_column(String(80))
    document_version: Mapped[int | None] = mapped_column(Integer)
    case_id: Mapped[str | None] = mapped_column(String(80), index=True)
    changes: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str] = mapped_column(String(64), nullable=False)
    client_addr: Mapped[str | None] = mapped_column(String(64))
    app_version: Mapped[str] = mapped_column(String(40), nullable=False)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)

    def hashed_fields(self) -> dict[str, str | int | None]:
        from edms.timeutil import isoformat_utc

        return {
            "seq": self.seq,
            "occurred_at": isoformat_utc(self.occurred_at),
            "actor_id": self.actor_id,
            "actor_name": self.actor_name,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "document_version": self.document_version,
            "case_id": self.case_id,
            "changes": self.changes,
            "reason": self.reason,
            "request_id": self.request_id,
            "client_addr": self.client_addr,
            "app_version": self.app_version,
            "prev_hash": self.prev_hash,
        }


class AuditCheckpoint(Base):
    """The chain head (seq, hash) at one moment, signed by the system key and time-stamped (RFC 3161).

    The signed bytes are rebuilt from the columns (see `edms.audit.checkpoints.checkpoint_payload`), so
    a change to any column breaks the signature; the time-stamp covers the signature value.
    """

    __tablename__ = "audit_checkpoint"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), nullable=False)
    head_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    signature: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # detached CMS (DER)
    timestamp_token: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # RFC 3161 TimeStampToken (DER)
    timestamped_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)  # genTime of the token


class AuditReview(Base):
    """A periodic review of a stretch of the audit trail by quality assurance (Annex 11 §9, ER/ES)."""

    __tablename__ = "audit_review"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    reviewer_name: Mapped[str] = mapped_column(String(200), nullable=False)
    from_seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), nullable=False)
    to_seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), nullable=False)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    outcome: Mapped[str] = mapped_column(String(40), nullable=False)
    findings: Mapped[str] = mapped_column(Text, nullable=False)
