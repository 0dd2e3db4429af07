"""A frozen version's DOCX stored when the version changes, not by the first export that needs it (issue 15).

Every use case that changes what a frozen version's DOCX prints (its submission, a signature or a refusal, a
status it moves to, a new version in its record's history) queues a `rendition.freeze` job for the document in
its own unit of work (`queue`): the job exists exactly when the change is committed, and signing never waits for
the rendering. The worker then runs `freeze`: it reads the document in a read-only unit of work (on SQLite
without the write lock), renders the DOCX of each frozen version in the language and zone of the case's site
whose current print (edms.documents.renditions.word.docx_key) is not stored yet, and stores them in a short
unit of work of its own (edms.documents.rendition_operations: blob, row, `document.rendition_stored` event).

Idempotent: a print already stored is not rendered again, so a job run twice, or a second job queued before
the first ran, stores nothing more. A job always renders the document as it is when it runs: one queued for a
state since changed again renders the current one. The export (edms.inspection.renderer) reuses what is
stored, re-hashing it as it is read, and still renders itself whatever is missing (a job not run yet).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from edms.application.services import Services
from edms.application.unit_of_work import command
from edms.audit import AuditContext
from edms.documents import models as dm
from edms.documents.presentation import build_rendition
from edms.documents.rendition_models import DOCX
from edms.documents.rendition_operations import store_rendition
from edms.documents.rendition_queries import stored_renditions
from edms.documents.renditions import render_docx
from edms.documents.renditions.word import docx_key
from edms.jobs import operations as job_ops
from edms.jobs.models import Job
from edms.signatures.pdf_operations import pdf_locale
from edms.signatures.presentation import rendition_signatures
from edms.timeutil import utc_now

FREEZE = "rendition.freeze"


def queue(services: Services, session: Session, ctx: AuditContext, document: dm.Document) -> Job | None:
    """Inside the use case that changed `document`: queue the job that stores the DOCX of its frozen versions
    (`job.requested`, audited in the same unit of work). None when the document has no frozen version yet."""
    if not any(version.frozen for version in document.versions):
        return None
    return job_ops.request(session, ctx, FREEZE, {
        "document_id": document.id, "number": document.number, "case_id": document.case_id,
    }, requested_by=None, now=utc_now(), max_attempts=services.settings.job_max_attempts)


@dataclass(frozen=True)
class _Made:
    version_id: int
    key: str
    generated_at: datetime
    data: bytes


def freeze(services: Services, ctx: AuditContext, document_id: int) -> dict[str, Any]:
    """The job: store the DOCX of every frozen version of the document whose current print is not stored yet,
    in the language and zone of its case's site. Returns what it found and did (the job's result)."""
    with Session(bind=services.reading_engine, expire_on_commit=False) as session, session.begin():
        document = session.get(dm.Document, document_id)
        if document is None:
            return {"document_id": document_id, "frozen": 0, "stored": 0}
        language, zone = pdf_locale(session, document)
        frozen = [version for version in document.versions if version.frozen]
        doc_type = services.document_types[document.type_key]
        trust = services.trust(session)
        stored = stored_renditions(session, [version.id for version in frozen], DOCX, language, zone)
        made: list[_Made] = []
        for version in frozen:
            rendition = build_rendition(session, doc_type, document, version, language=language, display_tz=zone,
                                        signatures=rendition_signatures(session, version, trust, doc_type, zone))
            key = docx_key(rendition)
            if (version.id, key) not in stored:
                made.append(_Made(version.id, key, rendition.generated_at, render_docx(rendition)))
    if made:
        with command(services.sessions) as session:
            document = session.get(dm.Document, document_id)
            assert document is not None  # documents are never deleted
            for item in made:
                changed = session.get(dm.DocumentVersion, item.version_id)
                assert changed is not None
                store_rendition(session, ctx, services.blobs, document, changed, DOCX, language=language,
                                display_tz=zone, layout_sha256=item.key, data=item.data,
                                generated_at=item.generated_at)
    return {"document_id": document_id, "language": language, "display_tz": zone, "frozen": len(frozen),
            "stored": len(made)}
