"""`edms blobs copy`: move an existing store's files into another backend (the filesystem store of a single
node into the database or an object store), so that every node serves them. Each file is read re-hashed
from the source, put, and verified in the target; running it again copies only what is missing. The copy
is audited (who, when, from where to where, which files)."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from edms.application.services import Services, longest_retention_years
from edms.application.unit_of_work import use_case
from edms.audit import AuditContext, record
from edms.documents.blobstore import BlobCorrupted, BlobNotFound, BlobStore
from edms.documents.blobstores import open_blob_store


@dataclass
class CopyReport:
    examined: int = 0
    copied: int = 0
    already_there: int = 0
    copied_hashes: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def copy_between(source: BlobStore, target: BlobStore) -> CopyReport:
    """Copy every blob of `source` missing from `target`; a source blob that no longer matches its hash is
    reported, never copied."""
    report = CopyReport()
    for sha256 in source.iter_hashes():
        report.examined += 1
        if target.exists(sha256) and target.verify(sha256):
            report.already_there += 1
            continue
        try:
            data = source.get(sha256)
        except (BlobCorrupted, BlobNotFound) as exc:
            report.failed.append((sha256, f"{type(exc).__name__}: {exc}"))
            continue
        if target.put(data) != sha256 or not target.verify(sha256):
            report.failed.append((sha256, "the target does not hold the bytes under their hash after the copy"))
            continue
        report.copied += 1
        report.copied_hashes.append(sha256)
    return report


def copy_blobs(services: Services, session: Session, ctx: AuditContext, *, source: str, target: str) -> CopyReport:
    """Copy from the `source` store to the `target` store as configured (s3_* keys for an object store)."""
    if source == target:
        raise ValueError("the source and the target store are the same")
    years = longest_retention_years(services.regimes)
    report = copy_between(open_blob_store(services.settings, services.engine, kind=source, longest_retention_years=years),
                          open_blob_store(services.settings, services.engine, kind=target, longest_retention_years=years))
    with use_case(session):
        record(session, ctx, "system.blobs_copied", "system", None, changes={
            "blob_store": {"old": source, "new": target},
            "copied": {"old": None, "new": report.copied_hashes},
            "already_there": {"old": None, "new": report.already_there},
            "failed": {"old": None, "new": [sha256 for sha256, _ in report.failed]},
        })
    return report
