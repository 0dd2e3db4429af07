"""The stored renditions (edms.documents.rendition_models) an export may reuse."""
from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.documents.rendition_models import FrozenRendition


def stored_renditions(session: Session, version_ids: Collection[int], fmt: str, language: str,
                      display_tz: str) -> dict[tuple[int, str], FrozenRendition]:
    """(version id, layout SHA-256) -> the rendition stored for it in this format, language and zone."""
    if not version_ids:
        return {}
    rows = session.scalars(select(FrozenRendition).where(
        FrozenRendition.version_id.in_(list(version_ids)), FrozenRendition.format == fmt,
        FrozenRendition.language == language, FrozenRendition.display_tz == display_tz))
    return {(row.version_id, row.layout_sha256): row for row in rows}
