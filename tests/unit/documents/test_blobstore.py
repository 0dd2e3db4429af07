"""Attachment bytes are stored under their SHA-256: never overwritten, never addressed by a user's
file name, and any later change to them is detected (21 CFR 11.10(a))."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from edms.documents.blobstore import BlobCorrupted, BlobNotFound, BlobStore, FileBlobStore

COA = b"%PDF-1.7\nCertificate of analysis, lot L2026-0412: viability 72 % (specification >= 80 %)\n%%EOF\n"
FLOW_CSV = b"lot,viability_pct\nL2026-0412,72.0\n"


@pytest.fixture
def store(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path / "blobs")


def stored_path(store: FileBlobStore, sha256: str) -> Path:
    return store.root / sha256[:2] / sha256[2:4] / sha256


def test_round_trip_returns_the_same_bytes_under_their_sha256(store):
    blobs: BlobStore = store
    sha256 = blobs.put(COA)

    assert sha256 == hashlib.sha256(COA).hexdigest()
    assert blobs.get(sha256) == COA
    assert blobs.exists(sha256)
    assert stored_path(store, sha256).is_file()


def test_storing_the_same_content_twice_keeps_the_one_original_file(store):
    sha256 = store.put(COA)
    first = stored_path(store, sha256).stat()

    assert store.put(COA) == sha256
    again = stored_path(store, sha256).stat()
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)


def test_stored_blobs_are_read_only_and_no_temporary_files_remain(store):
    sha256 = store.put(COA)
    path = stored_path(store, sha256)
    assert not path.stat().st_mode & 0o222
    assert [p.name for p in path.parent.iterdir()] == [sha256]


def test_iter_hashes_lists_every_blob_and_nothing_else(store):
    hashes = {store.put(COA), store.put(FLOW_CSV)}
    (store.root / "ab" / "cd").mkdir(parents=True)
    (store.root / "ab" / "cd" / ".incoming-x1y2").write_bytes(b"half written")
    (store.root / "README").write_text("not a blob")

    assert set(store.iter_hashes()) == hashes


@pytest.mark.req("11.10(a)")
def test_a_flipped_byte_is_detected(store):
    sha256 = store.put(COA)
    assert store.verify(sha256)
    path = stored_path(store, sha256)
    os.chmod(path, 0o644)
    altered = bytearray(path.read_bytes())
    altered[30] ^= 0x01  # "viability 72" -> one bit changed
    path.write_bytes(bytes(altered))

    assert store.verify(sha256) is False
    with pytest.raises(BlobCorrupted):
        store.get(sha256)


def test_missing_blob(store):
    absent = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(absent)
    assert store.verify(absent) is False
    with pytest.raises(BlobNotFound):
        store.get(absent)


@pytest.mark.parametrize("name", ["../../etc/passwd", "A" * 64, "ab" * 31, "", "0" * 63 + "/"])
def test_only_well_formed_digests_ever_become_paths(store, name):
    for operation in (store.get, store.exists, store.verify):
        with pytest.raises(ValueError):
            operation(name)
