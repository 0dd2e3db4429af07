"""Inspection acts: an inspector's access recorded in the request's unit of work, and an inspection
package exported (which records its own event and a checkpoint in units of work of its own)."""
from __future__ import annotations

from typing import BinaryIO

from sqlalchemy.orm import Session

from edms.application.services import Services
from edms.application.unit_of_work import complete, use_case
from edms.audit import AuditContext
from edms.cases.zones import case_zone, record_zone
from edms.documents import models as dm
from edms.inspection import access_log
from edms.inspection.package import (
    CASE,
    Exported,
    ExportEnvironment,
    ExportProgress,
    Scope,
    export_package,
    no_progress,
)


def record_access(services: Services, session: Session, ctx: AuditContext, access: access_log.Access) -> None:
    # What the record names is read first, in the same transaction (on SQLite still without the write lock):
    # only the event's place in the chain is left for the time the lock is held.
    described = access_log.describe(session, access)
    with use_case(session):
        access_log.record_described(session, ctx, described)


def _zone_of(session: Session, scope: Scope) -> str | None:
    if scope.kind == CASE:
        return case_zone(session, scope.id)
    document = session.get(dm.Document, scope.id)
    return record_zone(session, document) if document is not None else None


def export(services: Services, session: Session, ctx: AuditContext, scope: Scope, out: BinaryIO, *,
           language: str = "en", display_tz: str = "UTC", progress: ExportProgress = no_progress) -> Exported:
    """Write the package to `out` (`progress(done, total, phase)` told how far it is, per file). The caller's
    unit of work is completed first: the export reads a snapshot and writes its event and checkpoint itself
    (SQLite allows one writer at a time). Its times are in the zone of the case's site (`display_tz`, the
    reader's, only for a record outside a case)."""
    display_tz = _zone_of(session, scope) or display_tz
    complete(session)
    env = ExportEnvironment(services.settings, services.document_types, services.blobs, services.system_signer,
                            services.signing_authority, services.regimes)
    return export_package(services.engine, services.sessions, ctx, env, scope, out, language=language,
                          display_tz=display_tz, progress=progress)
