"""Stored files shared by every app node: with the database store (the default with PostgreSQL) a file
uploaded through one node is served by another whose data directory has never seen it; `edms verify`
checks the store the deployment uses; `edms blobs copy` moves an existing filesystem store across,
verified and audited; a backup carries an object store's files and restores them into an empty one."""
from __future__ import annotations

import io
import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from edms.app import create_app
from edms.audit.models import AuditEvent
from edms.backup import create_backup, restore_backup
from edms.cli import main
from edms.config import ConfigError, load_settings
from edms.db import make_engine
from edms.documents.blobstores import DatabaseBlobStore, FileBlobStore, S3BlobStore, open_blob_store
from tests.integration.test_blob_store_contract import moto, s3_location  # noqa: F401 (the moto fixture)
from tests.support import databases
from tests.support.documents import PDF_BYTES, Api, create_with_references, ensure_author, sha256
from tests.support.people import People


def _node_settings(database_url: str, data_dir: Path, blob_store: str = "database"):
    return load_settings("testing", overrides={"database_url": database_url, "data_dir": str(data_dir),
                                               "blob_store": blob_store})


def _postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the database store is the PostgreSQL one (SQLite has one writer: the files stay on disk)")


@pytest.fixture
def two_nodes(database_url, tmp_path):
    _postgres_only(database_url)
    nodes = []
    for name in ("node-a", "node-b"):
        app = create_app(_node_settings(database_url, tmp_path / name))
        app.config["TESTING"] = True
        nodes.append(app)
    yield nodes
    for app in nodes:
        app.extensions["edms"].engine.dispose()


def _files_under(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.is_file() and "blobs" in path.parts]


@pytest.mark.req("11.10(c)")
def test_a_file_uploaded_through_one_node_is_served_by_another(two_nodes, tmp_path):
    node_a, node_b = two_nodes
    client_a = node_a.test_client()
    people = People(settings=node_a.extensions["edms"].settings, sessions=node_a.extensions["edms"].sessions)
    api_a, created, _values = create_with_references(node_a, client_a, people, "oos_notification")
    uploaded = api_a.post(f"/documents/{created['id']}/attachments",
                          data={"file": (io.BytesIO(PDF_BYTES), "CoA L2026-0412.pdf")})
    assert uploaded.status_code == 201, uploaded.json

    author = ensure_author(people, node_a.extensions["edms"].document_types["oos_notification"])
    api_b = Api(node_b.test_client(), author)  # the same person, answered by the other node
    version = api_b.get(f"/documents/{created['id']}/versions/1").json
    download = api_b.client.get(version["attachments"][0]["url"], headers=api_b.headers)

    assert download.status_code == 200
    assert download.data == PDF_BYTES and download.headers["X-Content-SHA256"] == sha256(PDF_BYTES)
    assert _files_under(tmp_path / "node-a") == [] and _files_under(tmp_path / "node-b") == []
    assert isinstance(node_b.extensions["edms"].blobs, DatabaseBlobStore)


@pytest.mark.req("11.10(a)")
@pytest.mark.req("A11-7")
def test_edms_verify_re_hashes_the_files_in_the_database_store_and_names_an_altered_one(two_nodes):
    node_a, node_b = two_nodes
    client_a = node_a.test_client()
    people = People(settings=node_a.extensions["edms"].settings, sessions=node_a.extensions["edms"].sessions)
    api, created, _values = create_with_references(node_a, client_a, people, "oos_notification")
    api.post(f"/documents/{created['id']}/attachments", data={"file": (io.BytesIO(PDF_BYTES), "CoA L2026-0412.pdf")})
    settings = node_b.extensions["edms"].settings  # another node, whose data directory holds no file
    env = {"EDMS_ENV": "testing", "EDMS_DATABASE_URL": settings.database_url, "EDMS_DATA_DIR": str(settings.data_dir),
           "EDMS_BLOB_STORE": "database"}

    clean = CliRunner().invoke(main, ["verify"], env=env)
    assert clean.exit_code == 0, clean.output
    assert "1 stored_file" in clean.output

    with node_a.extensions["edms"].engine.begin() as connection:  # an attacker with the owner's rights
        connection.execute(text("ALTER TABLE blob_contents DISABLE TRIGGER USER"))
        connection.execute(text("UPDATE blob_contents SET content = :data"), {"data": PDF_BYTES + b"%tampered\n"})
    altered = CliRunner().invoke(main, ["verify"], env=env)
    assert altered.exit_code == 1
    assert f"stored_file {sha256(PDF_BYTES)}: altered: the bytes of {created['number']} v1" in altered.output


def test_the_database_store_is_the_default_with_postgresql_and_files_with_sqlite(database_url, tmp_path):
    settings = _node_settings(database_url, tmp_path, blob_store="auto")
    engine = make_engine(database_url)
    try:
        store = open_blob_store(settings, engine)
        expected = DatabaseBlobStore if database_url.startswith("postgresql") else FileBlobStore
        assert isinstance(store, expected)
        if not database_url.startswith("postgresql"):
            with pytest.raises(ConfigError, match="needs PostgreSQL"):
                open_blob_store(_node_settings(database_url, tmp_path, blob_store="database"), engine)
    finally:
        engine.dispose()


def test_an_unknown_blob_store_is_refused_at_start_up(tmp_path):
    with pytest.raises(ConfigError, match="blob_store"):
        load_settings("testing", overrides={"data_dir": str(tmp_path), "blob_store": "tape"})
    with pytest.raises(ConfigError, match="s3_bucket"):
        load_settings("testing", overrides={"data_dir": str(tmp_path), "blob_store": "s3"})


@pytest.mark.req("11.10(c)")
@pytest.mark.req("11.10(e)")
def test_blobs_copy_moves_a_filesystem_store_into_the_database_verified_idempotent_and_audited(database_url, tmp_path):
    _postgres_only(database_url)
    data_dir = tmp_path / "data"
    files = FileBlobStore(data_dir / "blobs")
    names = {files.put(PDF_BYTES), files.put(b"sample,viability\nretained,71.4\n")}
    env = {"EDMS_ENV": "testing", "EDMS_DATABASE_URL": database_url, "EDMS_DATA_DIR": str(data_dir)}

    first = CliRunner().invoke(main, ["blobs", "copy", "--to", "database"], env=env)
    second = CliRunner().invoke(main, ["blobs", "copy", "--to", "database"], env=env)

    assert first.exit_code == 0, first.output
    assert "2 file(s) copied, 0 already there" in first.output
    assert second.exit_code == 0 and "0 file(s) copied, 2 already there" in second.output
    engine = make_engine(database_url)
    try:
        store = DatabaseBlobStore(engine)
        assert set(store.iter_hashes()) == names and all(store.verify(name) for name in names)
        with engine.connect() as connection:
            events = connection.execute(select(AuditEvent.changes, AuditEvent.actor_name)
                                        .where(AuditEvent.action == "system.blobs_copied").order_by(AuditEvent.seq)).all()
    finally:
        engine.dispose()
    assert [set(json.loads(changes)["copied"]["new"]) for changes, _ in events] == [names, set()]
    assert events[0].actor_name == "edms blobs copy (console)"


def test_blobs_copy_reports_a_damaged_source_file_and_does_not_copy_it(database_url, tmp_path):
    _postgres_only(database_url)
    data_dir = tmp_path / "data"
    files = FileBlobStore(data_dir / "blobs")
    digest = files.put(PDF_BYTES)
    path = data_dir / "blobs" / digest[:2] / digest[2:4] / digest
    os.chmod(path, 0o644)
    path.write_bytes(PDF_BYTES + b"%changed on disk\n")
    env = {"EDMS_ENV": "testing", "EDMS_DATABASE_URL": database_url, "EDMS_DATA_DIR": str(data_dir)}

    result = CliRunner().invoke(main, ["blobs", "copy", "--to", "database"], env=env)

    assert result.exit_code == 1
    assert f"NOT COPIED {digest}: BlobCorrupted" in result.output
    engine = make_engine(database_url)
    try:
        assert not DatabaseBlobStore(engine).exists(digest)
    finally:
        engine.dispose()


@pytest.mark.req("A11-7")
def test_a_backup_carries_the_object_store_s_files_and_restores_them_into_an_empty_bucket(
        database_url, tmp_path, moto, sqlite_template):  # noqa: F811 (moto is the fixture)
    if not database_url.startswith("sqlite"):
        pytest.skip("the object store does not depend on the engine: once is enough")
    source = S3BlobStore(s3_location(moto), default_retention=timedelta(days=1))
    names = {source.put(PDF_BYTES), source.put(b"sample,viability\nretained,71.4\n")}
    archive = tmp_path / "backup.zip"
    with archive.open("wb") as out:
        description = create_backup(make_engine(database_url), tmp_path / "data", out, source)
    assert {name.rsplit("/", 1)[1] for name in description["files"] if name.startswith("blobs/")} == names

    target = S3BlobStore(s3_location(moto), default_retention=timedelta(days=1))
    restored_dir = tmp_path / "restored"
    restored_engine = make_engine(databases.sqlite_copy(sqlite_template, _fresh(tmp_path)))
    restore_backup(archive, restored_engine, restored_dir, target)

    assert set(target.iter_hashes()) == names and all(target.verify(name) for name in names)
    assert _files_under(restored_dir) == []  # into the bucket, not the data directory
    with pytest.raises(Exception, match="not empty"):
        restore_backup(archive, make_engine(databases.sqlite_copy(sqlite_template, _fresh(tmp_path, "again"))),
                       tmp_path / "again-data", target)


def _fresh(tmp_path: Path, name: str = "fresh") -> Path:
    directory = tmp_path / name
    directory.mkdir()
    return directory


@pytest.mark.req("A11-7")
def test_a_backup_of_the_database_store_restores_its_files_into_an_empty_database(two_nodes, request, tmp_path):
    node_a, _node_b = two_nodes
    people = People(settings=node_a.extensions["edms"].settings, sessions=node_a.extensions["edms"].sessions)
    api, created, _values = create_with_references(node_a, node_a.test_client(), people, "oos_notification")
    api.post(f"/documents/{created['id']}/attachments", data={"file": (io.BytesIO(PDF_BYTES), "CoA L2026-0412.pdf")})
    services = node_a.extensions["edms"]
    archive = tmp_path / "backup.zip"
    with archive.open("wb") as out:
        description = create_backup(services.engine, services.settings.data_dir, out, services.blobs)
    assert description["tables"]["blob_contents"]["rows"] == 1
    assert not any(name.startswith("blobs/") for name in description["files"])  # the table carries them

    server = request.getfixturevalue("postgres_server")
    name, url = databases.postgres_copy(server.url(), request.getfixturevalue("postgres_template"), server.url)
    engine = make_engine(url)
    try:
        restore_backup(archive, engine, tmp_path / "restored", DatabaseBlobStore(engine))
        assert DatabaseBlobStore(engine).get(sha256(PDF_BYTES)) == PDF_BYTES
    finally:
        engine.dispose()
        databases.drop_postgres(server.url(), name)
    assert _files_under(tmp_path / "restored") == []


@pytest.mark.req("11.10(c)")
def test_an_attachment_is_locked_for_its_regime_s_retention_of_the_record_type(app):
    from datetime import UTC, datetime

    from edms.application.services import longest_retention_years, retain_until

    services = app.extensions["edms"]
    now = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    regime = next(regime for regime in services.regimes.values() if regime.retention is not None)
    rule = regime.retention_of("oos_notification")
    assert rule is not None

    assert retain_until(services, "oos_notification", regime.key, now=now) >= now.replace(year=now.year + rule.years)
    # Without a case, the longest retention any regime declares: the safe side.
    longest = longest_retention_years(services.regimes)
    assert longest is not None and longest >= rule.years
    assert retain_until(services, "oos_notification", None, now=now) >= now.replace(year=now.year + longest)


def test_edms_init_creates_the_object_store_bucket_with_object_lock_once(tmp_path, moto):  # noqa: F811
    import subprocess
    import sys

    from tests.support.moto_server import ACCESS_KEY, SECRET_KEY

    bucket = f"edms-init-{os.getpid()}"
    env = {**os.environ, "EDMS_ENV": "testing", "EDMS_DATA_DIR": str(tmp_path), "EDMS_DATABASE_URL": "",
           "EDMS_BLOB_STORE": "s3", "EDMS_S3_ENDPOINT_URL": moto, "EDMS_S3_BUCKET": bucket,
           "EDMS_S3_ACCESS_KEY_ID": ACCESS_KEY, "EDMS_S3_SECRET_ACCESS_KEY": SECRET_KEY}

    def init() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "edms.cli", "init"], env=env, capture_output=True, text=True,
                              timeout=300)

    first, second = init(), init()

    assert first.returncode == 0, first.stderr
    assert f"Object store bucket {bucket} created (Object Lock, COMPLIANCE mode)" in first.stdout
    assert second.returncode == 0 and f"Object store bucket {bucket} kept" in second.stdout
    store = S3BlobStore(s3_location(moto, bucket), default_retention=timedelta(days=1))
    lock = store.client.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"


@pytest.mark.req("11.10(c)")
def test_blobs_copy_moves_a_filesystem_store_into_a_locked_bucket(database_url, tmp_path, moto):  # noqa: F811
    from tests.support.moto_server import ACCESS_KEY, SECRET_KEY

    if not database_url.startswith("sqlite"):
        pytest.skip("the object store does not depend on the engine: once is enough")
    data_dir = tmp_path / "data"
    names = {FileBlobStore(data_dir / "blobs").put(PDF_BYTES)}
    bucket = f"edms-copy-{os.getpid()}"
    env = {"EDMS_ENV": "testing", "EDMS_DATABASE_URL": database_url, "EDMS_DATA_DIR": str(data_dir),
           "EDMS_S3_ENDPOINT_URL": moto, "EDMS_S3_BUCKET": bucket, "EDMS_S3_ACCESS_KEY_ID": ACCESS_KEY,
           "EDMS_S3_SECRET_ACCESS_KEY": SECRET_KEY, "EDMS_S3_RETENTION_YEARS": "30"}

    result = CliRunner().invoke(main, ["blobs", "copy", "--to", "s3"], env=env)

    assert result.exit_code == 0, result.output
    assert "1 file(s) copied, 0 already there" in result.output
    store = S3BlobStore(s3_location(moto, bucket), default_retention=timedelta(days=1))
    assert set(store.iter_hashes()) == names and store.verify(sha256(PDF_BYTES))
    head = store.client.head_object(Bucket=bucket, Key=store.key(sha256(PDF_BYTES)))
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"].year >= 2026 + 30 - 1
