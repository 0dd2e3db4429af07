"""One contract for every store of attachment bytes: files, the database (SQLite and PostgreSQL) and an
S3-compatible object store with Object Lock (moto's server on the loopback interface). Whatever holds the
bytes, a blob is named by its SHA-256, stored once, re-hashed when read, and an altered or missing one is
reported, never served (21 CFR 11.10(a), (c); EU Annex 11 §7.1)."""
from __future__ import annotations

import hashlib
import os
import stat
import threading
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from edms.db import make_engine
from edms.documents.blobstores import (
    BlobCorrupted,
    BlobNotFound,
    BlobStore,
    DatabaseBlobStore,
    FileBlobStore,
    ObjectStoreError,
    S3BlobStore,
    S3Location,
)
from tests.support import databases
from tests.support.moto_server import ACCESS_KEY, SECRET_KEY, moto_server

BACKENDS = ("filesystem", "database-sqlite", "database-postgresql", "s3")
COA = b"%PDF-1.4\nCertificate of analysis, lot L2026-0412: viability 72.0 %, CD3+ 98.1 %\n%%EOF\n"
LARGE = 20 * 1024 * 1024


@dataclass
class Backend:
    name: str
    store: BlobStore
    # Replaces the stored bytes of a blob behind the store's back (as someone with access to the disk, the
    # database or the bucket could).
    tamper: Callable[[str, bytes], None]
    streams: bool  # verify() reads the bytes in chunks (or not at all), never all of them at once


@pytest.fixture(scope="module")
def moto(tmp_path_factory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        yield server.endpoint_url


def s3_location(endpoint: str, bucket: str | None = None) -> S3Location:
    return S3Location(bucket=bucket or f"edms-{uuid.uuid4().hex[:12]}", endpoint_url=endpoint, region="us-east-1",
                      access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY)


def _file_backend(tmp_path) -> Backend:
    store = FileBlobStore(tmp_path / "blobs")

    def tamper(sha256: str, data: bytes) -> None:
        path = store.root / sha256[:2] / sha256[2:4] / sha256
        path.chmod(stat.S_IWUSR | stat.S_IRUSR)
        path.write_bytes(data)

    return Backend("filesystem", store, tamper, streams=True)


def _database_backend(name: str, url: str) -> Backend:
    engine = make_engine(url)
    store = DatabaseBlobStore(engine)

    def tamper(sha256: str, data: bytes) -> None:
        # The append-only triggers refuse an UPDATE: an attacker with the owner's rights removes them first.
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("ALTER TABLE blob_contents DISABLE TRIGGER USER"))
            else:
                connection.execute(text("DROP TRIGGER blob_contents_no_update"))
            connection.execute(text("UPDATE blob_contents SET content = :data WHERE sha256 = :sha"),
                               {"data": data, "sha": sha256})

    return Backend(name, store, tamper, streams=engine.dialect.name == "postgresql")


def _s3_backend(endpoint: str) -> Backend:
    store = S3BlobStore(s3_location(endpoint), default_retention=timedelta(days=1))

    def tamper(sha256: str, data: bytes) -> None:
        # The locked version cannot be changed; a new version under the same key can be written by anyone
        # with write access, and is what a plain GET returns.
        store.client.put_object(Bucket=store.location.bucket, Key=store.key(sha256), Body=data)

    return Backend("s3", store, tamper, streams=True)


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path) -> Iterator[Backend]:
    kind = request.param
    engines = request.config.getoption("--engines")
    if kind == "filesystem":
        yield _file_backend(tmp_path)
    elif kind == "database-sqlite":
        if "sqlite" not in engines:
            pytest.skip("SQLite not selected (--engines)")
        yield _database_backend(kind, databases.sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path))
    elif kind == "database-postgresql":
        if "postgresql" not in engines:
            pytest.skip("PostgreSQL not selected (--engines)")
        server = request.getfixturevalue("postgres_server")
        name, url = databases.postgres_copy(server.url(), request.getfixturevalue("postgres_template"), server.url)
        created = _database_backend(kind, url)
        yield created
        assert isinstance(created.store, DatabaseBlobStore)
        created.store.engine.dispose()
        databases.drop_postgres(server.url(), name)
    else:
        yield _s3_backend(request.getfixturevalue("moto"))


@pytest.mark.req("11.10(a)")
def test_a_blob_is_named_by_the_sha256_of_its_bytes_and_the_same_bytes_are_stored_once(backend):
    first = backend.store.put(COA)
    again = backend.store.put(COA)

    assert first == again == hashlib.sha256(COA).hexdigest()
    assert list(backend.store.iter_hashes()).count(first) == 1
    assert backend.store.exists(first)
    assert backend.store.get(first) == COA
    assert backend.store.verify(first)


@pytest.mark.req("11.10(a)")
def test_every_stored_blob_is_listed_in_order_of_its_name(backend):
    names = {backend.store.put(f"flow cytometry run {n}\n".encode()) for n in range(5)}

    listed = list(backend.store.iter_hashes())

    assert set(listed) == names
    assert listed == sorted(listed)


def test_a_missing_blob_is_not_found_and_does_not_verify(backend):
    missing = hashlib.sha256(b"never stored").hexdigest()

    with pytest.raises(BlobNotFound):
        backend.store.get(missing)
    assert not backend.store.exists(missing)
    assert not backend.store.verify(missing)


def test_a_name_that_is_not_a_sha256_digest_is_refused_before_it_reaches_the_store(backend):
    for name in ("../../etc/passwd", "ABCDEF" * 10 + "ABCD", "0" * 63, "' OR 1=1 --"):
        with pytest.raises(ValueError, match="not a SHA-256"):
            backend.store.get(name)
        with pytest.raises(ValueError, match="not a SHA-256"):
            backend.store.exists(name)


@pytest.mark.req("11.10(a)")
def test_bytes_altered_behind_the_stores_back_are_detected_and_never_served(backend):
    digest = backend.store.put(COA)

    backend.tamper(digest, COA.replace(b"72.0", b"92.0"))

    with pytest.raises(BlobCorrupted, match=digest):
        backend.store.get(digest)
    assert not backend.store.verify(digest)


def test_concurrent_puts_of_the_same_bytes_store_one_blob_and_all_succeed(backend):
    results: list[str] = []
    errors: list[BaseException] = []

    def put() -> None:
        try:
            results.append(backend.store.put(COA))
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=put) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert set(results) == {hashlib.sha256(COA).hexdigest()}
    assert list(backend.store.iter_hashes()) == [results[0]]
    assert backend.store.get(results[0]) == COA


def test_a_large_blob_round_trips_and_is_verified_without_holding_it_in_memory(backend):
    data = os.urandom(LARGE)
    digest = backend.store.put(data)

    tracemalloc.start()
    try:
        verified = backend.store.verify(digest)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert verified
    if backend.streams:
        assert peak < LARGE // 4, f"verify() of {backend.name} held {peak} bytes for a {LARGE}-byte blob"
    assert backend.store.get(digest) == data


# Backend-specific guarantees behind the contract.

@pytest.fixture
def database_store(request, tmp_path) -> Iterator[DatabaseBlobStore]:
    engine_name = request.param
    if engine_name not in request.config.getoption("--engines"):
        pytest.skip(f"{engine_name} not selected (--engines)")
    if engine_name == "sqlite":
        engine = make_engine(databases.sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path))
        yield DatabaseBlobStore(engine)
        engine.dispose()
        return
    server = request.getfixturevalue("postgres_server")
    name, url = databases.postgres_copy(server.url(), request.getfixturevalue("postgres_template"), server.url)
    engine = make_engine(url)
    yield DatabaseBlobStore(engine)
    engine.dispose()
    databases.drop_postgres(server.url(), name)


@pytest.mark.req("11.10(c)")
@pytest.mark.parametrize("database_store", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("statement", ["UPDATE blob_contents SET size = 0", "DELETE FROM blob_contents"])
def test_stored_rows_are_append_only_in_the_database(database_store, statement):
    database_store.put(COA)

    with pytest.raises(Exception, match="append-only"):
        with database_store.engine.begin() as connection:
            connection.execute(text(statement))

    assert database_store.get(hashlib.sha256(COA).hexdigest()) == COA


@pytest.mark.req("11.10(c)")
def test_a_locked_object_version_cannot_be_deleted_or_overwritten_even_by_the_bucket_owner(moto):
    store = S3BlobStore(s3_location(moto), default_retention=timedelta(days=3650))
    digest = store.put(COA)
    client, bucket, key = store.client, store.location.bucket, store.key(digest)
    version = client.head_object(Bucket=bucket, Key=key)["VersionId"]

    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="AccessDenied"):
        client.delete_object(Bucket=bucket, Key=key, VersionId=version)
    with pytest.raises(ClientError, match="AccessDenied"):  # governance's bypass does not open compliance mode
        client.delete_object(Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=True)
    # Writing the key again makes a new version beside the locked one, which keeps its bytes.
    client.put_object(Bucket=bucket, Key=key, Body=b"replacement")
    kept = client.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()

    assert kept == COA
    assert client.head_object(Bucket=bucket, Key=key, VersionId=version)["ObjectLockMode"] == "COMPLIANCE"


def test_an_object_is_locked_until_the_date_its_record_s_retention_gives(moto):
    store = S3BlobStore(s3_location(moto), default_retention=timedelta(days=1))
    until = datetime(2056, 12, 7, tzinfo=UTC)

    digest = store.put(COA, retain_until=until)

    head = store.client.head_object(Bucket=store.location.bucket, Key=store.key(digest))
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"].astimezone(UTC).date()) == ("COMPLIANCE", until.date())


def test_a_bucket_without_object_lock_is_refused(moto):
    location = s3_location(moto)
    plain = S3BlobStore(location, default_retention=timedelta(days=1))
    plain._client.create_bucket(Bucket=location.bucket)  # made by hand, without Object Lock

    with pytest.raises(ObjectStoreError, match="no Object Lock"):
        plain.put(COA)


def test_the_bucket_is_created_with_object_lock_on_first_use(moto):
    store = S3BlobStore(s3_location(moto), default_retention=timedelta(days=1))

    assert store.ensure_bucket() is True
    lock = store.client.get_object_lock_configuration(Bucket=store.location.bucket)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
