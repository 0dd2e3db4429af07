"""A case: one OOS lot, for one patient, at one treating site, in one jurisdiction.

The case's dates and answers are append-only: a correction is a new row with a reason, so earlier
values stay visible (21 CFR 11.10(e)).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from edms.db import Base, UTCDateTime
from edms.sites.models import Site

OPEN = "open"
RELEASED = "released"
CLOSED = "closed"
CANCELLED = "cancelled"
CASE_STATUSES = (OPEN, RELEASED, CLOSED, CANCELLED)


class Case(Base):
    __tablename__ = "cases"
    # Every filter of the case lists, each with the id the lists are paged by (0020_scale_indexes).
    __table_args__ = (Index("ix_cases_status_id", "status", "id"), Index("ix_cases_jurisdiction_id", "jurisdiction", "id"),
                      Index("ix_cases_physician_id", "physician_id"),
                      Index("ix_cases_status_next_due", "status", "next_due_at", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    regime_key: Mapped[str] = mapped_column(String(64), nullable=False)
    jurisdiction: Mapped[str] = mapped_column(String(8), nullable=False, index=True)
    product: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    lot: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    # A pseudonymous code only: the system holds no direct patient identifiers.
    patient_ref: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    # The case's site record is authoritative (its name and zone as they are now); the two columns the
    # case was opened with stay as they were written, for the history (0010_sites made the records from them).
    # Never null (0010_sites: a CHECK on PostgreSQL, triggers on SQLite, where adding NOT NULL needs a batch copy).
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=True, index=True)
    opened_site_name: Mapped[str] = mapped_column("treating_site", String(200), nullable=False)
    opened_site_timezone: Mapped[str] = mapped_column("site_timezone", String(64), nullable=False)
    physician_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # The next deadline, stored by edms.application.case_deadlines when what it depends on changes (a
    # projection of the case's records, not a record): lists read it instead of computing every case.
    next_deadline_key: Mapped[str | None] = mapped_column(String(64))
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    next_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When computed; None: stored before 0022 (computed on read until the case's next change).
    deadlines_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    site: Mapped[Site] = relationship(lazy="joined")
    dates: Mapped[list[CaseDate]] = relationship(order_by="CaseDate.id", lazy="selectin")
    answers: Mapped[list[CaseAnswer]] = relationship(order_by="CaseAnswer.id", lazy="selectin")

    @property
    def treating_site(self) -> str:
        return self.site.name

    @property
    def site_timezone(self) -> str:
        """The zone every date of the case is read and shown in: its site's."""
        return self.site.timezone

    def current_dates(self) -> dict[str, datetime]:
        return {row.key: row.value for row in self.dates}  # ordered by id: the latest entry wins

    def current_answers(self) -> dict[str, bool]:
        return {row.key: row.answer for row in self.answers}


class CaseDate(Base):
    __tablename__ = "case_dates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), nullable=False, index=True)
    key: Mapped[str] = mapped_column(String(64), nullable=False)
    value: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class CaseAnswer(Base):
    __tablename__ = "case_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), nullable=False, index=True)
    key: Mapped[str] = mapped_column(String(64), nullable=False)
    answer: Mapped[bool] = mapped_column(Boolean, nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class CaseTask(Base):
    """A record an active case still needs, stored by edms.application.case_tasks when what the case's checklist
    depends on changes (a projection, like the next deadline): one row per role that may write it, so the
    inbox reads the rows of the reader's roles instead of computing every case's checklist (0022_scale_lists)."""

    __tablename__ = "case_tasks"
    __table_args__ = (Index("ix_case_tasks_role_case", "role", "case_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), nullable=False, index=True)
    type_key: Mapped[str] = mapped_column(String(64), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)  # the record's place in the regime's checklist
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    rank: Mapped[int] = mapped_column(Integer, nullable=False)  # the role's place among the first step's roles
    physician_writes: Mapped[bool] = mapped_column(Boolean, nullable=False)  # the case's physician writes it
    waiting_for: Mapped[str] = mapped_column(Text, nullable=False)  # JSON [{"en": ..., "ja": ...}]: its prerequisites
