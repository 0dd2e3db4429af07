"""What every blob store promises, whatever holds the bytes (21 CFR 11.10(a), (c); EU Annex 11 §7.1).

A blob's name is the SHA-256 of its bytes, so a stored file is never overwritten, a user's file name
never becomes a path or a key, and any change to the bytes is detectable by re-hashing them.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20


class BlobNotFound(LookupError):
    pass


class BlobCorrupted(RuntimeError):
    """The stored bytes no longer hash to their name: the blob was altered outside edms."""


class BlobStore(Protocol):
    def put(self, data: bytes, *, retain_until: datetime | None = None) -> str:
        """Store `data` (if absent) and return its SHA-256. `retain_until` (aware UTC): the earliest moment
        the bytes may be deleted, honoured where the store can lock objects (S3 Object Lock); callers that
        know the record's retention pass it, the others get the store's default."""
        ...

    def get(self, sha256: str) -> bytes: ...

    def exists(self, sha256: str) -> bool: ...

    def iter_hashes(self) -> Iterator[str]: ...

    def verify(self, sha256: str) -> bool: ...


def checked(sha256: str) -> str:
    # Only a well-formed lower-case digest ever becomes part of a path, a key or a query.
    if not isinstance(sha256, str) or not SHA256_HEX.match(sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return sha256
