"""Documents and their versions. A submitted version is frozen for ever (content, attachments, hash)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event, inspect, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from edms.db import Base, UTCDateTime

# Version statuses (EU Annex 11 §8: a print shows whether a record changed after first entry).
DRAFT = "draft"
IN_REVIEW = "in_review"
APPROVED = "approved"
SUPERSEDED = "superseded"
WITHDRAWN = "withdrawn"
REJECTED = "rejected"
VERSION_STATUSES = (DRAFT, IN_REVIEW, APPROVED, SUPERSEDED, WITHDRAWN, REJECTED)

# What a submitted version may never change again (migration 0003's triggers guard the same columns);
# only its status moves on.
FROZEN_COLUMNS = ("document_id", "version", "title", "content", "content_sha256", "frozen_at", "created_by", "created_at")


class FrozenRecordError(RuntimeError):
    """Code tried to change a frozen version or its attachments, or to delete a controlled row.

    Raised by the ORM before any SQL is sent, in addition to the database triggers, so that a
    programming error is named clearly instead of surfacing as a database error.
    """


class Document(Base):
    __tablename__ = "documents"
    # The filters of the record lists, each with the id they are paged by (0020_scale_indexes); a person's own
    # records newest first, for the inbox (0023_inbox_indexes).
    __table_args__ = (Index("ix_documents_type_key_id", "type_key", "id"), Index("ix_documents_status_id", "status", "id"),
                      Index("ix_documents_owner_id_id", "owner_id", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    type_key: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    current_version: Mapped[int] = mapped_column(Integer, nullable=False)

    versions: Mapped[list[DocumentVersion]] = relationship(
        back_populates="document", order_by="DocumentVersion.version", lazy="selectin"
    )

    def version(self, number: int) -> DocumentVersion | None:
        return next((v for v in self.versions if v.version == number), None)

    @property
    def latest(self) -> DocumentVersion:
        return self.versions[-1]


class DocumentVersion(Base):
    __tablename__ = "document_versions"
    # The stuck-records list pages the versions in review by (status_changed_at, id) (0022_scale_lists).
    __table_args__ = (UniqueConstraint("document_id", "version"),
                      Index("ix_document_versions_status_changed", "status", "status_changed_at", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), nullable=False, index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    # Canonical JSON (RFC 8785) of the field values, exactly as hashed once frozen.
    content: Mapped[str] = mapped_column(Text, nullable=False)
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    document: Mapped[Document] = relationship(back_populates="versions")
    all_attachments: Mapped[list[Attachment]] = relationship(
        back_populates="version", order_by="Attachment.id", lazy="selectin"
    )

    @property
    def attachments(self) -> list[Attachment]:
        return [a for a in self.all_attachments if a.removed_at is None]

    @property
    def frozen(self) -> bool:
        return self.frozen_at is not None


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("document_versions.id"), nullable=False, index=True)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    display_name: Mapped[str] = mapped_column(String(255), nullable=False)
    media_type: Mapped[str] = mapped_column(String(120), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    added_by: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # Removing an attachment from a draft is recorded, never a deletion.
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    version: Mapped[DocumentVersion] = relationship(back_populates="all_attachments")


class NumberSequence(Base):
    """The last number issued per document type and year; row-locked while a number is issued."""

    __tablename__ = "number_sequences"
    __table_args__ = (UniqueConstraint("type_key", "year"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type_key: Mapped[str] = mapped_column(String(64), nullable=False)
    year: Mapped[int] = mapped_column(Integer, nullable=False)
    last: Mapped[int] = mapped_column(Integer, nullable=False)


def _frozen_at(connection, version_id: int | None):
    # The stored state, not the object's: what counts is whether the version was frozen before this flush.
    return connection.scalar(select(DocumentVersion.frozen_at).where(DocumentVersion.id == version_id))


def _changed_columns(mapper, target) -> list[str]:
    # before_update also fires for rows with no net change (e.g. only a relationship was touched).
    state = inspect(target)
    return [attr.key for attr in mapper.column_attrs if state.attrs[attr.key].history.has_changes()]


@event.listens_for(DocumentVersion, "before_update")
def _keep_version_frozen(mapper, connection, target: DocumentVersion) -> None:
    changed = [name for name in _changed_columns(mapper, target) if name in FROZEN_COLUMNS]
    if changed and _frozen_at(connection, target.id) is not None:
        raise FrozenRecordError(
            f"document version #{target.id} (version {target.version}) is frozen: {', '.join(changed)} cannot "
            "change; create a new version with a reason"
        )


def _refuse_frozen_attachment(connection, target: Attachment) -> None:
    history = inspect(target).attrs.version_id.history
    for version_id in {target.version_id, *history.deleted}:
        if _frozen_at(connection, version_id) is not None:
            raise FrozenRecordError(f"document version #{version_id} is frozen: its attachments cannot be added or changed")


@event.listens_for(Attachment, "before_insert")
def _no_attachment_to_frozen_version(mapper, connection, target: Attachment) -> None:
    _refuse_frozen_attachment(connection, target)


@event.listens_for(Attachment, "before_update")
def _no_change_to_frozen_attachment(mapper, connection, target: Attachment) -> None:
    if _changed_columns(mapper, target):
        _refuse_frozen_attachment(connection, target)


@event.listens_for(Session, "before_flush")
def _never_delete(session: Session, _flush_context, _instances) -> None:
    # Checked before the flush: deleting a parent would otherwise first show up as its children's updates.
    for target in session.deleted:
        if isinstance(target, (Document, DocumentVersion, Attachment)):
            raise FrozenRecordError(f"{target.__tablename__} #{target.id}: controlled records are never deleted")
