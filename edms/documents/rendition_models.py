"""Renditions frozen and stored: a version's DOCX, made once in the language and zone of its case's site and
kept content-addressed in the blob store, so that exports reuse it instead of rendering it again (issue 15).

A DOCX prints what the version is at a moment (its status, its signatures and their verification, the
history of its record), so a stored one is keyed by the SHA-256 of everything it prints but its generation
time (`layout_sha256`, edms.documents.renditions.word.docx_key): it is reused only while a fresh rendering
would print exactly the same; otherwise a new one is made (and stored). Only ever added to.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from edms.db import Base, UTCDateTime

DOCX = "docx"
RENDITION_FORMATS = (DOCX,)


class FrozenRendition(Base):
    __tablename__ = "frozen_renditions"
    __table_args__ = (UniqueConstraint("version_id", "format", "language", "display_tz", "layout_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("document_versions.id"), nullable=False, index=True)
    format: Mapped[str] = mapped_column(String(8), nullable=False)
    language: Mapped[str] = mapped_column(String(8), nullable=False)
    display_tz: Mapped[str] = mapped_column(String(64), nullable=False)
    layout_sha256: Mapped[str] = mapped_column(String(64), nullable=False)  # of everything it prints
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)  # of the file, its name in the blob store
    length: Mapped[int] = mapped_column(BigInteger, nullable=False)
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)  # the time the file prints
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
