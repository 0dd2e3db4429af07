"""A version's rendition as people read it: built from the stored version, with its signature
manifestations verified under the organisation's current trust (the same for pages and API)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from edms.application.services import Services
from edms.cases.zones import display_zone
from edms.documents import models as dm
from edms.documents.presentation import build_rendition
from edms.documents.renditions import Rendition
from edms.signatures.presentation import rendition_signatures


def rendition(services: Services, session: Session, document: dm.Document, version: dm.DocumentVersion, *,
              language: str, display_tz: str) -> Rendition:
    """Times in the zone of the record's site (`display_tz`, the reader's, only for a record outside a case)."""
    doc_type = services.document_types[document.type_key]
    display_tz = display_zone(session, document, display_tz)
    signatures = rendition_signatures(session, version, services.trust(session), doc_type, display_tz)
    return build_rendition(session, doc_type, document, version, language=language, display_tz=display_tz,
                           signatures=signatures)
