"""`edms verify` re-derives every frozen version's content hash and re-hashes every stored file, so a record
or file changed behind the application's back is flagged and named (21 CFR 11.10(a); EU Annex 11 §7.1).

The attacker has the database password and file-system access: triggers are dropped (SQLite) or bypassed
with session_replication_role = replica (PostgreSQL, the test server runs as superuser).
"""
from __future__ import annotations

import io
import os
from contextlib import contextmanager

import pytest
from sqlalchemy import update

from edms.application.integrity import check_integrity as verify
from edms.db import make_engine
from edms.documents import models as m
from tests.support.audit_chain import edms_verify
from tests.support.documents import PDF_BYTES, create_with_references, sha256

FROZEN_TRIGGERS = ("document_versions_frozen", "attachments_frozen_insert", "attachments_frozen_update")


@pytest.fixture
def submitted(app, client, people, organisation_pki):
    """OOS-2026-0001: version 1 with its certificate of analysis submitted, version 2 submitted with a reason."""
    api, created, values = create_with_references(app, client, people, "oos_notification")
    document_id = created["id"]
    api.post(f"/documents/{document_id}/attachments", data={"file": (io.BytesIO(PDF_BYTES), "CoA L2026-0412.pdf")})
    api.post(f"/documents/{document_id}/submit")
    api.put(f"/documents/{document_id}", json={"values": dict(values, result="72.4"), "reason": "Retest result reported"})
    api.post(f"/documents/{document_id}/submit")
    return created["number"]


@contextmanager
def attacker(settings):
    """A transaction that bypasses the frozen-version triggers."""
    engine = make_engine(settings.database_url)
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            for trigger in FROZEN_TRIGGERS:
                connection.exec_driver_sql(f"DROP TRIGGER {trigger}")
        else:
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        yield connection
    engine.dispose()


def _blob(settings):
    digest = sha256(PDF_BYTES)
    return settings.data_dir / "blobs" / digest[:2] / digest[2:4] / digest


@pytest.mark.req("11.10(a)")
@pytest.mark.req("A11-7")
def test_untouched_versions_and_files_verify(settings, submitted):
    result = edms_verify(settings)
    assert result.exit_code == 0, result.output
    assert "2 document_versions" in result.output and "1 stored_file" in result.output


@pytest.mark.req("11.10(a)")
@pytest.mark.parametrize(("table", "change"), [
    ("document_versions", {"content": '{"result":"81.0"}'}),
    ("document_versions", {"title": "Viability within specification"}),
    ("attachments", {"display_name": "CoA L2026-0413.pdf"}),
    ("attachments", {"sha256": "0" * 64}),
])
def test_a_frozen_version_changed_behind_the_triggers_is_flagged(settings, submitted, table, change):
    target = m.DocumentVersion.__table__ if table == "document_versions" else m.Attachment.__table__
    key = target.c.id if table == "document_versions" else target.c.version_id
    with attacker(settings) as connection:
        connection.execute(update(target).where(key == 1).values(**change))
    result = edms_verify(settings)
    assert result.exit_code == 1
    broken = f"first broken item: document_versions {submitted} v1: content or attachments no longer match"
    assert broken in result.output, result.output


@pytest.mark.req("11.10(a)")
@pytest.mark.req("A11-7")
def test_one_byte_changed_in_a_stored_file_is_flagged(settings, submitted):
    blob = _blob(settings)
    os.chmod(blob, 0o644)
    data = bytearray(blob.read_bytes())
    data[-2] ^= 0x01
    blob.write_bytes(bytes(data))
    result = edms_verify(settings)
    assert result.exit_code == 1
    assert (f"first broken item: stored_file {sha256(PDF_BYTES)}: altered: the bytes of {submitted} v1 "
            "CoA L2026-0412.pdf no longer hash to the stored value") in result.output


@pytest.mark.req("11.10(c)")
@pytest.mark.req("A11-7")
def test_a_stored_file_that_disappeared_is_flagged(settings, submitted):
    _blob(settings).unlink()
    result = edms_verify(settings)
    assert result.exit_code == 1
    assert f"stored_file {sha256(PDF_BYTES)}: missing: the stored file of {submitted} v1" in result.output


def test_stored_files_are_never_reported_verified_without_the_data_directory(app, submitted):
    report = verify(app.extensions["edms"].engine, only={"stored_files"})
    assert not report.ok
    assert report.first_problem.text == "the stored files cannot be checked: the data directory was not given"


@pytest.mark.req("11.10(a)")
def test_a_recorded_file_hash_that_is_no_hash_at_all_is_flagged_not_skipped(settings, submitted):
    with attacker(settings) as connection:
        connection.execute(update(m.Attachment.__table__).where(m.Attachment.__table__.c.version_id == 1)
                           .values(sha256="../../etc/passwd"))
    result = edms_verify(settings)
    assert result.exit_code == 1
    assert f"stored_file ../../etc/passwd: the hash recorded for {submitted} v1 CoA L2026-0412.pdf is not a SHA-256 value" \
        in result.output, result.output
