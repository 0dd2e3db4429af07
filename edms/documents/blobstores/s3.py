"""Blobs in an S3-compatible object store with Object Lock in COMPLIANCE mode: every object version is kept
until its retain-until date, and the server refuses to delete or shorten it to anyone, the bucket owner and
the root account included (21 CFR 11.10(c); EU Annex 11 §7.1, §17).

An object's key is `<prefix><sha256>`; the bucket is created with Object Lock enabled (`edms init` or the
first use), and a bucket without Object Lock is refused. boto3 is the optional extra `edms[s3]`.
"""
from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from edms.documents.blobstores.base import CHUNK, SHA256_HEX, BlobCorrupted, BlobNotFound, checked
from edms.timeutil import require_aware, utc_now

LOCK_MODE = "COMPLIANCE"


class ObjectStoreError(RuntimeError):
    """The object store cannot hold records safely (no Object Lock) or cannot be reached."""


@dataclass(frozen=True)
class S3Location:
    bucket: str
    endpoint_url: str = ""  # empty: AWS itself
    region: str = "us-east-1"
    access_key_id: str = ""  # empty: boto3's own chain (AWS_* variables, instance role)
    secret_access_key: str = ""
    prefix: str = "blobs/"


class S3BlobStore:
    """Each blob one object, put once with a COMPLIANCE lock until `retain_until` (else now + the default)."""

    def __init__(self, location: S3Location, *, default_retention: timedelta, client: Any = None) -> None:
        if not location.bucket:
            raise ObjectStoreError("blob_store = \"s3\" needs s3_bucket (EDMS_S3_BUCKET)")
        if default_retention <= timedelta(0):
            raise ObjectStoreError("the default retention of the object store must be positive")
        self.location = location
        self.default_retention = default_retention
        self._client = client if client is not None else make_client(location)
        self._ready = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"S3BlobStore(bucket={self.location.bucket!r}, endpoint={self.location.endpoint_url or 'AWS'!r})"

    @property
    def client(self) -> Any:
        self.ensure_bucket()
        return self._client

    def key(self, sha256: str) -> str:
        return f"{self.location.prefix}{checked(sha256)}"

    def ensure_bucket(self) -> bool:
        """Create the bucket with Object Lock enabled if it does not exist; True if it was created. A bucket
        that exists without Object Lock is refused: its objects could be deleted before their time."""
        with self._lock:
            if self._ready:
                return False
            created = False
            from botocore.exceptions import ClientError

            try:
                self._client.head_bucket(Bucket=self.location.bucket)
            except ClientError as exc:
                if _code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
                    raise ObjectStoreError(f"bucket {self.location.bucket}: {exc}") from exc
                arguments: dict[str, Any] = {"Bucket": self.location.bucket, "ObjectLockEnabledForBucket": True}
                if self.location.region and self.location.region != "us-east-1":
                    arguments["CreateBucketConfiguration"] = {"LocationConstraint": self.location.region}
                self._client.create_bucket(**arguments)
                created = True
            try:
                lock = self._client.get_object_lock_configuration(Bucket=self.location.bucket)
                enabled = lock.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
            except ClientError:
                enabled = False
            if not enabled:
                raise ObjectStoreError(f"bucket {self.location.bucket} has no Object Lock: records stored there could be "
                                       "deleted before their retention ends; use a bucket created with Object Lock")
            self._ready = True
            return created

    def put(self, data: bytes, *, retain_until: datetime | None = None) -> str:
        digest = hashlib.sha256(data).hexdigest()
        if self.exists(digest):
            return digest  # never a second version of the same bytes (a concurrent put adds an identical one)
        until = require_aware(retain_until) if retain_until is not None else utc_now() + self.default_retention
        self.client.put_object(
            Bucket=self.location.bucket, Key=self.key(digest), Body=data,
            # The server checks the bytes it received against the hash they are named by.
            ChecksumAlgorithm="SHA256", ChecksumSHA256=base64.b64encode(bytes.fromhex(digest)).decode("ascii"),
            ObjectLockMode=LOCK_MODE, ObjectLockRetainUntilDate=until, Metadata={"sha256": digest},
        )
        return digest

    def _body(self, sha256: str) -> Any:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.location.bucket, Key=self.key(sha256))["Body"]
        except ClientError as exc:
            if _code(exc) in {"404", "NoSuchKey", "NotFound"}:
                raise BlobNotFound(sha256) from None
            raise

    def get(self, sha256: str) -> bytes:
        body = self._body(sha256)
        digest, chunks = hashlib.sha256(), []
        while chunk := body.read(CHUNK):
            digest.update(chunk)
            chunks.append(chunk)
        if digest.hexdigest() != sha256:
            raise BlobCorrupted(f"blob {sha256} does not match its hash")
        return b"".join(chunks)

    def exists(self, sha256: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.location.bucket, Key=self.key(sha256))
        except ClientError as exc:
            if _code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def iter_hashes(self) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.location.bucket,
                                                                      Prefix=self.location.prefix)
        for page in pages:
            for item in page.get("Contents", []):
                name = item["Key"][len(self.location.prefix):]
                if SHA256_HEX.match(name):
                    yield name

    def verify(self, sha256: str) -> bool:
        """True only if the object exists and its bytes, streamed, still hash to its name."""
        try:
            body = self._body(sha256)
        except BlobNotFound:
            return False
        digest = hashlib.sha256()
        while chunk := body.read(CHUNK):
            digest.update(chunk)
        return digest.hexdigest() == sha256


def make_client(location: S3Location) -> Any:
    try:
        import boto3
    except ImportError:  # pragma: no cover (the extra is installed wherever s3 is configured)
        raise ObjectStoreError("blob_store = \"s3\" needs boto3: install edms[s3]") from None
    return boto3.client(
        "s3", endpoint_url=location.endpoint_url or None, region_name=location.region or None,
        aws_access_key_id=location.access_key_id or None, aws_secret_access_key=location.secret_access_key or None,
    )


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
