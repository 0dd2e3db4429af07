"""`edms verify` for documents: every frozen version's content hash and every stored file, re-derived
from what is stored (21 CFR 11.10(a); EU Annex 11 §7.1). No Flask here.

The caller passes the configured store as `blobs=` to the integrity run (files, database or object store); without
it, the files in `<data_dir>/blobs` (`data_dir=`) are checked.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.audit.integrity import VerificationRun
from edms.documents import models as m
from edms.documents.blobstore import BlobStore, FileBlobStore
from edms.documents.queries import version_hash
from edms.documents.rendition_models import FrozenRendition
from edms.errors import N_


def check_version_hashes(run: VerificationRun) -> None:
    """Recompute each frozen version's hash from its stored content and attachments, as submit() did."""
    batch_size = run.options["batch_size"]
    # A session on the snapshot connection: the same ORM objects and the same hash function as the app.
    with Session(bind=run.connection) as session:
        last_id = 0
        while True:
            documents = session.scalars(
                select(m.Document).where(m.Document.id > last_id).order_by(m.Document.id).limit(batch_size)
            ).all()
            if not documents:
                break
            for document in documents:
                for version in document.versions:
                    if version.frozen_at is not None:
                        _check_version(run, document, version)
            last_id = documents[-1].id
            session.expunge_all()  # memory stays flat however many documents there are


def _check_version(run: VerificationRun, document: m.Document, version: m.DocumentVersion) -> None:
    run.examined("document_versions")
    key = f"{document.number} v{version.version}"
    if version.content_sha256 is None:
        run.problem("document_versions", key, N_("frozen but has no content hash"))
    elif version_hash(document, version) != version.content_sha256:
        run.problem("document_versions", key, N_("content or attachments no longer match the content hash "
                                                 "stored at submission (changed after it was frozen)"))


def check_stored_files(run: VerificationRun) -> None:
    """Re-hash every stored file an attachment or a frozen rendition refers to; its name is the SHA-256 its bytes
    must have."""
    references = run.connection.execute(
        select(m.Attachment.sha256, m.Document.number, m.DocumentVersion.version, m.Attachment.display_name)
        .join(m.DocumentVersion, m.Attachment.version_id == m.DocumentVersion.id)
        .join(m.Document, m.DocumentVersion.document_id == m.Document.id)
        .order_by(m.Attachment.id)
    )
    first_use: dict[str, str] = {}
    for sha256, number, version, name in references:
        first_use.setdefault(sha256, f"{number} v{version} {name}")
    # The DOCX renditions frozen for exports are stored files too: an altered one must not wait for an export.
    renditions = run.connection.execute(
        select(FrozenRendition.sha256, m.Document.number, m.DocumentVersion.version, FrozenRendition.format,
               FrozenRendition.language)
        .join(m.DocumentVersion, FrozenRendition.version_id == m.DocumentVersion.id)
        .join(m.Document, m.DocumentVersion.document_id == m.Document.id)
        .order_by(FrozenRendition.id)
    )
    for sha256, number, version, file_format, language in renditions:
        first_use.setdefault(sha256, f"{number} v{version} {file_format.upper()} rendition ({language})")
    if not first_use:
        return
    blobs: BlobStore | None = run.options.get("blobs")
    data_dir = run.options.get("data_dir")
    if blobs is None:
        if data_dir is None:
            run.problem("stored_file", "*", N_("the stored files cannot be checked: the data directory was not given"))
            return
        blobs = FileBlobStore(Path(data_dir) / "blobs")
    for sha256, used_by in first_use.items():
        run.examined("stored_file")
        try:
            if blobs.verify(sha256):
                continue
        except ValueError:  # only a well-formed digest ever names a stored file
            run.problem("stored_file", sha256,
                        N_("the hash recorded for %(file)s is not a SHA-256 value (changed after it was stored)"), file=used_by)
            continue
        if blobs.exists(sha256):
            run.problem("stored_file", sha256, N_("altered: the bytes of %(file)s no longer hash to the stored value"),
                        file=used_by)
        else:
            run.problem("stored_file", sha256, N_("missing: the stored file of %(file)s is not in the blob store"),
                        file=used_by)
