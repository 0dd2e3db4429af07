"""What the database must hold after the load: every acknowledged change exactly once, and no half change.

"Half" means a row without the audit event that made it, or an event without its row: a version frozen
without its submission, a signature without its time-stamp or its event, an attachment whose file is not
stored, a version approved or rejected without the signatures that decided it.
"""
from __future__ import annotations

import json
from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from edms.audit.models import AuditEvent
from edms.documents import models as dm
from edms.documents.blobstore import BlobStore
from edms.signatures.models import Signature
from tests.cluster import load
from tests.cluster.load import Ledger


def _changes(event: AuditEvent) -> dict:
    return json.loads(event.changes) if event.changes else {}


def assert_every_acknowledged_change_once(session: Session, ledger: Ledger) -> None:
    documents = {d.id: d for d in session.scalars(select(dm.Document))}
    by_id = {s.signature_id: s for s in session.scalars(select(Signature))}
    attachments = {a.id: a for a in session.scalars(select(dm.Attachment))}
    assert ledger.documents <= set(documents), sorted(ledger.documents - set(documents))
    for attachment_id, (document_id, sha256) in ledger.attachments.items():
        row = attachments.get(attachment_id)
        assert row is not None and row.sha256 == sha256 and row.version.document_id == document_id, attachment_id
    for document_id in ledger.submitted:
        assert documents[document_id].versions[0].frozen, document_id
    for signature_id, (document_id, step, kind) in ledger.signatures.items():
        row = by_id.get(signature_id)
        assert row is not None and (row.document_id, row.step, row.kind) == (document_id, step, kind), signature_id
    for document_id in ledger.refused:
        assert documents[document_id].versions[0].status == dm.REJECTED, document_id
    exported = Counter(int(e.object_id) for e in session.scalars(
        select(AuditEvent).where(AuditEvent.action == "inspection.exported")))
    for document_id, packages in ledger.exports.items():
        assert exported[document_id] >= packages, (document_id, exported[document_id], packages)


def assert_no_half_change(session: Session, blobs: BlobStore) -> None:
    events = list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), "the audit sequence has a gap"
    documents = {d.id: d for d in session.scalars(select(dm.Document))}
    signatures = list(session.scalars(select(Signature)))
    by_id = {s.signature_id: s for s in signatures}

    created = Counter(e.object_id for e in events if e.action == "document.created")
    submitted = {(e.object_id, e.document_version) for e in events if e.action == "document.submitted"}
    approved = {(e.object_id, e.document_version) for e in events if e.action == "document.approved"}
    signed = Counter(_changes(e)["signature"]["new"]["signature_id"] for e in events
                     if e.action in ("signature.signed", "signature.rejected"))
    attached = Counter((e.object_id, _changes(e)["attachment"]["new"]["sha256"]) for e in events
                       if e.action == "document.attachment_added")

    assert all(created[str(document_id)] == 1 for document_id in documents), "a document without its creation event"
    assert sum(created.values()) == len(documents), "a creation event without its document"
    assert set(signed) == set(by_id) and all(n == 1 for n in signed.values()), "signature rows and events differ"
    for signature in signatures:
        assert signature.timestamp_response and signature.timestamped_at, f"{signature.signature_id} has no time-stamp"
        assert signature.cms and signature.manifest, f"{signature.signature_id} has no CMS or manifest"
    stored_attachments = Counter()
    for document in documents.values():
        for version in document.versions:
            for attachment in version.all_attachments:
                stored_attachments[(str(document.id), attachment.sha256)] += 1
                assert blobs.verify(attachment.sha256), f"attachment {attachment.id}: its file is not stored whole"
            steps = sorted(s.step for s in signatures if s.version_id == version.id)
            rejections = [s for s in signatures if s.version_id == version.id and s.kind == "rejection"]
            key = (str(document.id), version.version)
            if version.frozen:
                assert key in submitted, f"document {document.id} v{version.version} frozen without its submission"
                assert version.content_sha256
            else:
                assert version.status == dm.DRAFT and not steps and key not in submitted
            assert len(steps) == len(set(steps)), f"a step signed twice on document {document.id}"
            if rejections:
                assert version.status == dm.REJECTED and len(rejections) == 1, (document.id, version.status)
            elif len(steps) == 3:
                assert version.status == dm.APPROVED and document.status == dm.APPROVED and key in approved
            elif version.frozen:
                assert version.status == dm.IN_REVIEW and key not in approved, (document.id, version.status, steps)
    assert stored_attachments == attached, "attachment rows and their events differ"


def counts(session: Session) -> dict[str, int]:
    def count(model) -> int:
        return session.scalar(select(func.count()).select_from(model)) or 0

    return {"documents": count(dm.Document), "attachments": count(dm.Attachment), "signatures": count(Signature),
            "audit events": count(AuditEvent)}


def assert_deployment_kept_every_acknowledged_change(deployment, ledger: Ledger, inspector: str, label: str) -> None:
    """The end of every multi-node test: the export jobs finished, every node stopped, `edms verify` passes, and
    the database holds every acknowledged change exactly once and none half made."""
    from edms.application.services import build_services

    load.finish_export_jobs(deployment, ledger, inspector)
    deployment.stop()
    verified = deployment.edms("verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    services = build_services(deployment.settings())
    try:
        with services.sessions() as session:
            assert_every_acknowledged_change_once(session, ledger)
            assert_no_half_change(session, services.blobs)
            print(f"{label}:", counts(session))
    finally:
        services.engine.dispose()
