"""Content-addressed stores of attachment bytes: files (the SQLite default), the database (the PostgreSQL
default) and an S3-compatible object store with Object Lock. Each passes the same contract tests
(tests/integration/test_blob_store_contract.py)."""
from edms.documents.blobstores.base import BlobCorrupted, BlobNotFound, BlobStore, checked
from edms.documents.blobstores.database import BlobContent, DatabaseBlobStore
from edms.documents.blobstores.factory import BLOB_STORES, open_blob_store, resolved_kind
from edms.documents.blobstores.files import FileBlobStore
from edms.documents.blobstores.s3 import ObjectStoreError, S3BlobStore, S3Location

__all__ = [
    "BLOB_STORES", "BlobContent", "BlobCorrupted", "BlobNotFound", "BlobStore", "DatabaseBlobStore", "FileBlobStore",
    "ObjectStoreError", "S3BlobStore", "S3Location", "checked", "open_blob_store", "resolved_kind",
]
