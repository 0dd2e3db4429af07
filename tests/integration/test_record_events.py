"""`edms verify` holds the records to the audit trail: every record has its creating event, each frozen
version's content hash is the one recorded at submission, each file's hash one recorded at upload
(21 CFR 11.10(a),(e); ER/ES authenticity). The attacker can rewrite rows and files together, so that each
table agrees with itself; the audit trail (witnessed, checkpointed) is what they cannot rewrite."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from edms.audit.models import AuditEvent
from edms.documents import models as m
from edms.documents.blobstore import FileBlobStore
from edms.documents.queries import version_hash
from tests.integration.test_audit_tamper import attacker as audit_attacker
from tests.integration.test_documents_integrity import attacker, edms_verify, submitted  # noqa: F401

VERSIONS = m.DocumentVersion.__table__
ATTACHMENTS = m.Attachment.__table__


def _first_version(connection, number):
    session = Session(bind=connection)
    document = session.scalars(select(m.Document).where(m.Document.number == number)).one()
    return session, document, next(version for version in document.versions if version.version == 1)


@pytest.mark.req("11.10(a)")
@pytest.mark.req("ERES-authenticity")
def test_a_frozen_unsigned_version_rewritten_with_its_hash_is_detected(settings, submitted):  # noqa: F811
    with attacker(settings) as connection:
        session, document, version = _first_version(connection, submitted)
        values = json.loads(version.content)
        values["result"] = "98.5"
        version.content = json.dumps(values)
        forged = version_hash(document, version)
        session.expunge_all()
        connection.execute(update(VERSIONS).where(VERSIONS.c.id == version.id)
                           .values(content=json.dumps(values), content_sha256=forged))
    result = edms_verify(settings)
    assert result.exit_code == 1, result.output
    assert f"document_versions {submitted} v1: content hash {forged} is not the one recorded at submission" in result.output
    # The version's own hash recomputes: only the audit trail shows the rewrite.
    assert "no longer match the content hash" not in result.output


@pytest.mark.req("11.10(a)")
@pytest.mark.req("ERES-authenticity")
def test_an_attachment_file_replaced_with_the_version_hash_recomputed_is_detected(settings, submitted):  # noqa: F811
    replacement = b"%PDF-1.4\n% a certificate of analysis with better numbers\n%%EOF\n"
    digest = FileBlobStore(settings.data_dir / "blobs").put(replacement)
    with attacker(settings) as connection:
        session, document, version = _first_version(connection, submitted)
        attachment = version.attachments[0]
        attachment.sha256, attachment.size = digest, len(replacement)
        forged = version_hash(document, version)
        session.expunge_all()
        connection.execute(update(ATTACHMENTS).where(ATTACHMENTS.c.id == attachment.id)
                           .values(sha256=digest, size=len(replacement)))
        connection.execute(update(VERSIONS).where(VERSIONS.c.id == version.id).values(content_sha256=forged))
    result = edms_verify(settings)
    assert result.exit_code == 1, result.output
    assert "was never recorded at an upload to this document: the file was replaced" in result.output
    assert f"document_versions {submitted} v1: content hash {forged} is not the one recorded" in result.output


@pytest.mark.req("11.10(e)")
def test_a_record_without_its_creating_event_is_detected(settings, submitted):  # noqa: F811
    with audit_attacker(settings) as connection:
        connection.execute(delete(AuditEvent.__table__).where(AuditEvent.__table__.c.action == "document.created"))
    result = edms_verify(settings)
    assert result.exit_code == 1, result.output
    assert f"documents {submitted}: no audit event records its creation (document.created)" in result.output
    assert f"document_versions {submitted} v1: no audit event records its creation" in result.output


def test_untouched_records_have_their_events(settings, submitted):  # noqa: F811
    result = edms_verify(settings)
    assert result.exit_code == 0, result.output
    assert "record_event_links" in result.output
