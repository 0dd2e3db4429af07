"""Backups: an administrator's download (audited before it is written) and a console restore."""
from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from edms.application.services import Services
from edms.application.unit_of_work import complete, use_case
from edms.audit import AuditContext, record
from edms.backup import create_backup, restore_backup
from edms.documents.blobstore import BlobStore


def back_up(services: Services, session: Session | None, ctx: AuditContext | None, out: BinaryIO, *,
            reason: str | None = None) -> dict[str, Any]:
    """Write every table, stored file and the PKI to `out`. From the pages (`session` given) the act is
    recorded and committed first, so the backup holds its own event."""
    if session is not None and ctx is not None:
        with use_case(session):
            record(session, ctx, "system.backup_exported", "system", None, reason=reason)
        complete(session)
    return create_backup(services.engine, services.settings.data_dir, out, services.blobs)


def restore(engine: Engine, data_dir: Path, archive: Path, blobs: BlobStore | None = None) -> dict[str, Any]:
    """Into an empty database migrated with `edms init` (before any `Services` can be built on it); stored
    files go to `blobs` when it is an object store."""
    return restore_backup(archive, engine, data_dir, blobs)
