"""The rows an inspection package reads for every version it exports (edms.inspection.package), in one query
each, and held for the whole snapshot."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.cases import models as cm
from edms.documents import models as dm
from edms.documents.pdf_models import SignedPdfRevision
from edms.signatures.archive_queries import evidence_records
from edms.signatures.models import Signature, SigningCredential


class StoredRows:
    """The signatures, signed-PDF revisions and Evidence Records of every version exported, read in one query
    each rather than per version or signature; and the cases and signing credentials they refer to, held here
    for the whole snapshot: the session's identity map holds rows only weakly, so each look-up of one of them
    (the site's locale per document, a signature's credential at each verification) read it again otherwise."""

    def __init__(self, session: Session, documents: Sequence[dm.Document]) -> None:
        case_ids = {document.case_id for document in documents} - {None}
        self.cases = list(session.scalars(select(cm.Case).where(cm.Case.id.in_(case_ids)))) if case_ids else []
        self.signatures: dict[int, list[Signature]] = {}
        for row in session.scalars(select(Signature).where(Signature.document_id.in_([d.id for d in documents]))
                                   .order_by(Signature.id)):
            self.signatures.setdefault(row.version_id, []).append(row)
        credential_ids = {row.credential_id for rows in self.signatures.values() for row in rows} - {None}
        self.credentials = list(session.scalars(select(SigningCredential).where(
            SigningCredential.id.in_(credential_ids)))) if credential_ids else []
        self.evidence = evidence_records(session, [row.id for rows in self.signatures.values() for row in rows])
        self.pdf_revisions: dict[int, list[SignedPdfRevision]] = {}
        version_ids = [version.id for document in documents for version in document.versions]
        for revision in session.scalars(select(SignedPdfRevision).where(SignedPdfRevision.version_id.in_(version_ids))
                                        .order_by(SignedPdfRevision.version_id, SignedPdfRevision.revision)):
            self.pdf_revisions.setdefault(revision.version_id, []).append(revision)
