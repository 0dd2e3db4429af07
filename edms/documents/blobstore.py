"""Content-addressed storage of attachment bytes (21 CFR 11.10(a), (c); EU Annex 11 §7.1).

The stores live in `edms.documents.blobstores` (files, database, S3); this module keeps the names its
callers have always imported.
"""
from edms.documents.blobstores.base import BlobCorrupted, BlobNotFound, BlobStore
from edms.documents.blobstores.files import FileBlobStore

__all__ = ["BlobCorrupted", "BlobNotFound", "BlobStore", "FileBlobStore"]
