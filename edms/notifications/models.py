"""One row per message to one person. Rows are never deleted (a trigger refuses it); only the delivery
fields change, each change audited."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from edms.cases import models as _cases  # noqa: F401  (registers the tables the foreign keys name)
from edms.db import Base, UTCDateTime
from edms.documents import models as _documents  # noqa: F401
from edms.errors import N_
from edms.users.models import User

# Kept only: no SMTP relay was configured, or the person has no e-mail address. The page and the API show it.
RECORDED = "recorded"
PENDING = "pending"  # waiting for the next delivery
SENT = "sent"
FAILED = "failed"  # the last attempt failed; later deliveries try again up to smtp.max_attempts

STATUS_LABELS = {
    RECORDED: N_("Recorded (no e-mail)"),
    PENDING: N_("Waiting to be sent"),
    SENT: N_("Sent"),
    FAILED: N_("Failed"),
}

# Why someone is told: a record waits for them, one of theirs was refused, approved, revised, withdrawn or
# handed to them, work was delegated to them, a case they are concerned by changed, or a case deadline is near.
KIND_LABELS = {
    "task": N_("Task"),
    "rejected": N_("Refused"),
    "approved": N_("Approved"),
    "delegation": N_("Delegation"),
    "deadline": N_("Deadline"),
    "revised": N_("New version"),
    "withdrawn": N_("Withdrawn"),
    "ownership": N_("Ownership"),
    "case": N_("Case"),
}

SUBJECT_MAX = 255


class Notification(Base):
    __tablename__ = "notifications"
    # A person's notifications and the outbox, newest first, paged by (created_at, id) (0020_scale_indexes).
    __table_args__ = (Index("ix_notifications_recipient_created", "recipient_id", "created_at", "id"),
                      Index("ix_notifications_created_id", "created_at", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    # The address at the time of enqueueing, so the record shows where the message went.
    recipient_email: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(SUBJECT_MAX), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)

    recipient: Mapped[User] = relationship(lazy="selectin")
