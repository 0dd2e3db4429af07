"""Which blob store a deployment uses (`blob_store` in the configuration, EDMS_BLOB_STORE)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from edms.config import BLOB_STORES, ConfigError, Settings
from edms.documents.blobstores.base import BlobStore
from edms.documents.blobstores.database import DatabaseBlobStore
from edms.documents.blobstores.files import FileBlobStore
from edms.documents.blobstores.s3 import S3BlobStore, S3Location

# Used when neither s3_retention_years nor any loaded regime names a retention.
FALLBACK_RETENTION_YEARS = 30


def resolved_kind(settings: Settings, engine: Engine) -> str:
    """`auto`: the database with PostgreSQL (replicated with it, shared by every node), files with SQLite."""
    if settings.blob_store == "auto":
        return "database" if engine.dialect.name == "postgresql" else "filesystem"
    return settings.blob_store


def open_blob_store(settings: Settings, engine: Engine, *, kind: str | None = None,
                    longest_retention_years: int | None = None) -> BlobStore:
    """The configured store (or `kind`). The S3 store locks each object for its record's retention when the
    caller knows it, else for `s3_retention_years`, else for the longest retention any regime declares."""
    kind = kind or resolved_kind(settings, engine)
    if kind == "filesystem":
        return FileBlobStore(settings.data_dir / "blobs")
    if kind == "database":
        if engine.dialect.name == "sqlite":
            # SQLite has one writer at a time and the request holds it: a put on its own connection would wait.
            raise ConfigError("blob_store = \"database\" needs PostgreSQL; with SQLite use \"filesystem\"")
        return DatabaseBlobStore(engine)
    if kind == "s3":
        years = settings.s3_retention_years or longest_retention_years or FALLBACK_RETENTION_YEARS
        location = S3Location(bucket=settings.s3_bucket, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region,
                              access_key_id=settings.s3_access_key_id, secret_access_key=settings.s3_secret_access_key,
                              prefix=settings.s3_prefix)
        return S3BlobStore(location, default_retention=timedelta(days=366 * years))
    raise ConfigError(f"blob_store must be one of {', '.join(BLOB_STORES)}, not {kind!r}")
