"""Storing a frozen rendition (edms.documents.rendition_models): the file in the blob store, a row, an event."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.audit import AuditContext, record
from edms.documents import models as m
from edms.documents.blobstore import BlobStore
from edms.documents.rendition_models import RENDITION_FORMATS, FrozenRendition
from edms.timeutil import require_aware, utc_now

STORED_ACTION = "document.rendition_stored"


def store_rendition(session: Session, ctx: AuditContext, blobs: BlobStore, document: m.Document,
                    version: m.DocumentVersion, fmt: str, *, language: str, display_tz: str, layout_sha256: str,
                    data: bytes, generated_at: datetime) -> FrozenRendition:
    """Store the rendition of a frozen version; the one already stored for the same print is kept."""
    if fmt not in RENDITION_FORMATS:
        raise ValueError(f"unknown rendition format {fmt!r}")
    if not version.frozen:
        raise ValueError("only the rendition of a frozen version is stored: a draft's changes")
    existing = session.scalar(select(FrozenRendition).where(
        FrozenRendition.version_id == version.id, FrozenRendition.format == fmt, FrozenRendition.language == language,
        FrozenRendition.display_tz == display_tz, FrozenRendition.layout_sha256 == layout_sha256))
    if existing is not None:
        return existing
    row = FrozenRendition(version_id=version.id, format=fmt, language=language, display_tz=display_tz,
                          layout_sha256=layout_sha256, sha256=blobs.put(data), length=len(data),
                          generated_at=require_aware(generated_at), created_at=utc_now())
    session.add(row)
    session.flush()
    record(session, ctx, STORED_ACTION, "document", document.id, document_version=version.version,
           case_id=document.case_id, changes={"rendition": {"old": None, "new": {
               "format": fmt, "language": language, "display_tz": display_tz, "sha256": row.sha256,
               "length": row.length, "layout_sha256": layout_sha256}}})
    return row
