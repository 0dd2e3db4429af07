"""A backup restored into an empty database gives the same rows, hashes and chain head (11.10(c), A11-7)."""
import io
import zipfile

import pytest
from sqlalchemy import func, select

from edms.audit import AuditContext
from edms.audit.models import AuditEvent
from edms.backup import BackupError, create_backup, restore_backup
from edms.db import make_engine, make_session_factory, transaction
from edms.documents import operations as docs
from edms.documents.blobstore import FileBlobStore
from edms.migrate import upgrade

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def fill(app, people):
    """A realistic slice of data: people, an OOS notification with an attachment, submitted and revised."""
    services = app.extensions["edms"]
    author = people.make("kenji.sato", "author", printed_name="Kenji Sato")
    people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    doc_type = services.document_types["deviation_report"]
    ctx = AuditContext(author.id, author.printed_name)
    values = valid_values(doc_type)
    with transaction(services.sessions) as session:
        user = session.get(type(author), author.id)
        document = docs.create_document(session, ctx, user, doc_type, title="Low viability, lot L2026-0412", raw_values=values)
        docs.add_attachment(session, ctx, user, document, services.blobs, filename="coa.pdf", data=PDF)
        docs.submit(session, ctx, user, document)
        docs.revise(session, ctx, user, doc_type, document, "root cause confirmed by re-test")


DEVIATION = {
    "lot": "L2026-0412",
    "description": "Viable cell fraction 72 % at release against a specification of >= 80 % (flow cytometry, 7-AAD).",
    "detection": "Release testing on 2026-11-20; confirmed by a second analyst on a retained sample.",
    "impact": "Lot is out of specification; the patient has no second apheresis option within the treatment window.",
    "root_cause": "Low baseline viability of the apheresis material after prolonged transport (31 h).",
    "corrective_actions": "Transport time limit re-trained at the collection site.",
    "preventive_actions": "Add a temperature and time logger to every apheresis shipment.",
    "capa_reference": "CAPA-2026-0031",
}


def valid_values(doc_type):
    return DEVIATION


def snapshot(engine):
    from edms.backup import _rows, _tables

    return {table.name: b"".join(_rows(engine, table)) for table in _tables()}


@pytest.mark.req("11.10(c)")
@pytest.mark.req("A11-7")
@pytest.mark.req("ERES-preservation")
def test_backup_restored_into_an_empty_database_is_identical_and_verifies(app, people, settings, tmp_path):
    fill(app, people)
    source = app.extensions["edms"].engine
    archive = tmp_path / "backup.zip"
    with archive.open("wb") as out:
        description = create_backup(source, settings.data_dir, out)
    assert description["tables"]["audit_event"]["rows"] > 5

    # Restore into a brand-new SQLite database (whatever the source engine was): the copy is identical.
    target_dir = tmp_path / "restored"
    target_dir.mkdir()
    target = make_engine(f"sqlite:///{target_dir / 'edms.sqlite3'}")
    upgrade(target)
    restore_backup(archive, target, target_dir)
    assert snapshot(target) == snapshot(source)
    for sha in zipfile.ZipFile(archive).namelist():
        if sha.startswith("blobs/"):
            assert FileBlobStore(target_dir / "blobs").verify(sha.rsplit("/", 1)[1])

    from edms.application.integrity import check_integrity as verify
    from edms.pki import trust_anchors

    original = verify(source, trust=trust_anchors(settings), data_dir=settings.data_dir)
    restored = verify(target, trust=trust_anchors(settings), data_dir=target_dir)
    assert original.ok, original.first_problem
    assert restored.ok, restored.first_problem
    assert restored.chain_head == original.chain_head
    target.dispose()


def test_restore_refuses_a_non_empty_database_and_a_damaged_backup(app, people, settings, tmp_path):
    fill(app, people)
    engine = app.extensions["edms"].engine
    buffer = io.BytesIO()
    create_backup(engine, settings.data_dir, buffer)
    archive = tmp_path / "backup.zip"
    archive.write_bytes(buffer.getvalue())
    with pytest.raises(BackupError, match="not empty"):
        restore_backup(archive, engine, settings.data_dir)

    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(archive) as original, zipfile.ZipFile(damaged, "w") as copy:
        for item in original.infolist():
            data = original.read(item)
            if item.filename == "tables/audit_event.jsonl":
                data = data.replace(b"Kenji Sato", b"Kenji Sat0", 1)
            copy.writestr(item, data)
    fresh = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    upgrade(fresh)
    with pytest.raises(BackupError, match="audit_event.jsonl is damaged"):
        restore_backup(damaged, fresh, tmp_path / "fresh-data")
    with make_session_factory(fresh)() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0
    fresh.dispose()


def test_backup_and_restore_from_the_console(app, people, settings, tmp_path):
    import os
    import subprocess
    import sys

    fill(app, people)
    archive = tmp_path / "edms-backup.zip"
    env = {**os.environ, "EDMS_ENV": "testing", "EDMS_DATABASE_URL": settings.database_url,
           "EDMS_DATA_DIR": str(settings.data_dir)}
    made = subprocess.run([sys.executable, "-m", "edms.cli", "backup", str(archive)], env=env, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    target = tmp_path / "target"
    env_target = {**env, "EDMS_DATABASE_URL": "", "EDMS_DATA_DIR": str(target)}
    assert subprocess.run([sys.executable, "-m", "edms.cli", "init"], env=env_target, capture_output=True).returncode == 0
    restored = subprocess.run([sys.executable, "-m", "edms.cli", "restore", str(archive)], env=env_target,
                              capture_output=True, text=True)
    assert restored.returncode == 0, restored.stderr
    again = subprocess.run([sys.executable, "-m", "edms.cli", "restore", str(archive)], env=env_target,
                           capture_output=True, text=True)
    assert again.returncode != 0 and "not empty" in again.stderr



@pytest.mark.req("11.10(c)")
@pytest.mark.req("A11-7")
def test_a_backup_restored_after_edms_init_carries_its_own_pki_so_edms_verify_passes(app, people, settings, organisation_pki,
                                                                                    tmp_path):
    import os
    import subprocess
    import sys

    def edms(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "edms.cli", *args], env=env, capture_output=True, text=True,
                              check=False)

    fill(app, people)
    archive = tmp_path / "edms-backup.zip"
    with archive.open("wb") as out:
        create_backup(app.extensions["edms"].engine, settings.data_dir, out)
    target = tmp_path / "target"
    env = {**os.environ, "EDMS_ENV": "testing", "EDMS_DATABASE_URL": "", "EDMS_DATA_DIR": str(target)}
    assert edms("init").returncode == 0
    init_root = target / "pki" / "root-ca.pem"
    created_by_init = init_root.read_bytes() if init_root.exists() else None
    restored = edms("restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    for path in (settings.data_dir / "pki").rglob("*"):
        if path.is_file():
            assert (target / "pki" / path.relative_to(settings.data_dir / "pki")).read_bytes() == path.read_bytes()
    set_aside = list(target.glob("pki.replaced-by-restore-*"))
    assert len(set_aside) == 1 and (created_by_init is None or (set_aside[0] / "root-ca.pem").read_bytes() == created_by_init)
    verified = edms("verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def _archive_listing(source: bytes, tmp_path, name: str, *, symlink: bool = False):
    """The backup with one more listed file under `name` (its hash recorded, so only the name is wrong)."""
    import hashlib
    import json

    hostile = tmp_path / "hostile.zip"
    with zipfile.ZipFile(io.BytesIO(source)) as original, zipfile.ZipFile(hostile, "w") as copy:
        description = json.loads(original.read("backup.json"))
        for item in original.infolist():
            if item.filename != "backup.json":
                copy.writestr(item, original.read(item))
        member = zipfile.ZipInfo(name)
        if symlink:
            member.external_attr = (0o120777 << 16)
        copy.writestr(member, b"owned")
        description["files"][name] = hashlib.sha256(b"owned").hexdigest()
        copy.writestr("backup.json", json.dumps(description))
    return hostile


@pytest.mark.req("A11-7")
@pytest.mark.parametrize(("name", "symlink"), [
    ("../escaped.txt", False), ("blobs/../../escaped.txt", False), ("/tmp/edms-escaped.txt", False),
    ("pki/../../escaped.txt", False), ("blobs\\..\\..\\escaped.txt", False), ("C:/escaped.txt", False),
    ("config/escaped.txt", False), ("blobs/link", True),
])
def test_restore_never_writes_outside_the_data_directory_whatever_names_the_archive_holds(
        app, people, settings, tmp_path, name, symlink):
    fill(app, people)
    buffer = io.BytesIO()
    create_backup(app.extensions["edms"].engine, settings.data_dir, buffer)
    hostile = _archive_listing(buffer.getvalue(), tmp_path, name, symlink=symlink)
    data_dir = tmp_path / "deep" / "data"
    data_dir.mkdir(parents=True)
    fresh = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    upgrade(fresh)
    with pytest.raises(BackupError, match="nothing was restored"):
        restore_backup(hostile, fresh, data_dir)
    assert not (tmp_path / "deep" / "escaped.txt").exists() and not (tmp_path / "escaped.txt").exists()
    assert not list(data_dir.rglob("*"))
    with make_session_factory(fresh)() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0
    fresh.dispose()


def test_restore_refuses_a_data_directory_that_already_holds_stored_files(app, people, settings, tmp_path):
    fill(app, people)
    buffer = io.BytesIO()
    create_backup(app.extensions["edms"].engine, settings.data_dir, buffer)
    archive = tmp_path / "backup.zip"
    archive.write_bytes(buffer.getvalue())
    data_dir = tmp_path / "used"
    (data_dir / "blobs" / "ab").mkdir(parents=True)
    (data_dir / "blobs" / "ab" / "abcdef").write_bytes(b"another instance's file")
    fresh = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    upgrade(fresh)
    with pytest.raises(BackupError, match="data directory is not empty"):
        restore_backup(archive, fresh, data_dir)
    with make_session_factory(fresh)() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0
    fresh.dispose()

@pytest.mark.req("A11-7")
def test_an_administrator_downloads_a_backup_from_the_admin_page_and_the_act_is_audited(app, people, admin_client):
    from tests.conftest import csrf_token

    fill(app, people)
    page = admin_client.get("/admin/backup").get_data(as_text=True)
    response = admin_client.post("/admin/backup", data={"reason": "monthly off-site copy", "csrf_token": csrf_token(page)})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(response.data)).namelist()
    assert "backup.json" in names and "tables/audit_event.jsonl" in names
    assert any(name.startswith("blobs/") for name in names)
    with app.extensions["edms"].sessions() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "system.backup_exported")).one()
    assert event.reason == "monthly off-site copy"
