"""What a person sees of a version: field values as text, and the rendition built from the stored version."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from edms.documents import models as m
from edms.documents.queries import values_of, version_hash
from edms.documents.renditions import Rendition, RenditionAttachment, RenditionSignature, RenditionVersion, display_field
from edms.documents.types import DocumentType, FieldDef
from edms.timeutil import utc_now


def display_value(field: FieldDef, value: object, language: str, zone: str) -> str:
    return display_field(field, value, language, zone)


def build_rendition(
    session: Session, doc_type: DocumentType, document: m.Document, version: m.DocumentVersion, *,
    language: str, display_tz: str, signatures: Sequence[RenditionSignature] = (),
) -> Rendition:
    """Always regenerated from the stored version; stamped with the content hash it was made from.
    `signatures` are the version's manifestations (edms.signatures.presentation.rendition_signatures),
    passed in so that documents never import signatures."""
    return Rendition(
        doc_type=doc_type,
        number=document.number,
        title=version.title,
        version=version.version,
        status=version.status,
        content_sha256=version.content_sha256 or f"{version_hash(document, version)} (draft, not frozen)",
        values=values_of(version),
        generated_at=utc_now(),
        attachments=[RenditionAttachment(name=a.display_name, media_type=a.media_type, size=a.size, sha256=a.sha256)
                     for a in version.attachments],
        signatures=list(signatures),
        versions=[RenditionVersion(version=v.version, status=v.status, created_at=v.created_at, reason=v.reason or "")
                  for v in document.versions],
        language=language,
        display_tz=display_tz,
    )
