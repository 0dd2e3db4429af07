"""Content-addressed storage of attachment bytes (21 CFR 11.10(a), (c); EU Annex 11 §7.1).

A blob's name is the SHA-256 of its bytes, so a stored file is never overwritten, a user's file name
never becomes a path, and any change to the bytes is detectable by re-hashing them.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


class BlobNotFound(LookupError):
    pass


class BlobCorrupted(RuntimeError):
    """The stored bytes no longer hash to their name: the blob was altered outside edms."""


class BlobStore(Protocol):
    def put(self, data: bytes) -> str: ...

    def get(self, sha256: str) -> bytes: ...

    def exists(self, sha256: str) -> bool: ...

    def iter_hashes(self) -> Iterator[str]: ...

    def verify(self, sha256: str) -> bool: ...


def _checked(sha256: str) -> str:
    # Only a well-formed lower-case digest ever becomes part of a path.
    if not _SHA256_HEX.match(sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return sha256


class FileBlobStore:
    """Blobs under `root/ab/cd/abcd…` (two fan-out levels keep directories small)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        digest = _checked(sha256)
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
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
            if _SHA256_HEX.match(name) and path.parent.parent.name == name[:2] and path.parent.name == name[2:4]:
                yield name

    def verify(self, sha256: str) -> bool:
        """True only if the blob exists and its bytes still hash to its name."""
        digest = hashlib.sha256()
        try:
            with self._path(sha256).open("rb") as stored:
                while chunk := stored.read(_CHUNK):
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
