"""Blobs as read-only files under the data directory: the embedded default (one node, SQLite)."""
from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from edms.documents.blobstores.base import CHUNK, SHA256_HEX, BlobCorrupted, BlobNotFound, checked


class FileBlobStore:
    """Blobs under `root/ab/cd/abcd…` (two fan-out levels keep directories small)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"FileBlobStore({str(self.root)!r})"

    def _path(self, sha256: str) -> Path:
        digest = checked(sha256)
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes, *, retain_until: datetime | None = None) -> str:
        # Files have no lock of their own: retention is the file system's and the backups' job.
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if path.exists():
            return digest  # same name means same bytes: never rewrite a stored blob
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=".incoming-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as temp:
                temp.write(data)
                temp.flush()
                os.fsync(temp.fileno())
            os.chmod(temp_name, 0o444)
            # A concurrent put of the same content can only replace identical bytes.
            os.replace(temp_name, path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        _fsync_directory(path.parent)
        return digest

    def get(self, sha256: str) -> bytes:
        """The stored bytes, re-hashed on the way out so altered content is never served silently."""
        path = self._path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BlobCorrupted(f"blob {sha256} does not match its hash")
        return data

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).is_file()

    def iter_hashes(self) -> Iterator[str]:
        for path in sorted(self.root.glob("[0-9a-f][0-9a-f]/[0-9a-f][0-9a-f]/*")):
            name = path.name
            if SHA256_HEX.match(name) and path.parent.parent.name == name[:2] and path.parent.name == name[2:4]:
                yield name

    def verify(self, sha256: str) -> bool:
        """True only if the blob exists and its bytes still hash to its name (read in chunks)."""
        digest = hashlib.sha256()
        try:
            with self._path(sha256).open("rb") as stored:
                while chunk := stored.read(CHUNK):
                    digest.update(chunk)
        except FileNotFoundError:
            return False
        return digest.hexdigest() == sha256


def _fsync_directory(directory: Path) -> None:
    # Make the rename itself durable (POSIX); not possible on every platform.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
