"""What each kind of job does: explicit wiring, one function per kind, each taking the services and its call.

- `inspection.export`: an inspection package of a case or a document. Built into a temporary file, then
  stored in the content-addressed blob store; only a complete, hashed package is ever recorded as the
  job's result, so a worker killed midway leaves no half package (the retry builds a new one).
- `rendition.freeze`: the DOCX of a document's frozen versions, stored after the change that queued it (a
  submission, signature, refusal or status change: edms.application.frozen_renditions), so that exports reuse it.
- `outbox.deliver`, `escalate`, `archive.timestamps`: the periodic work of `edms outbox deliver`,
  `edms escalate` and `edms archive-timestamps`, queued by the worker's schedule or by an administrator.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from tempfile import TemporaryFile
from typing import Any

from edms.application import archiving, frozen_renditions, inspection, notifications
from edms.application.escalations import escalate_overdue
from edms.application.services import Services
from edms.application.unit_of_work import command
from edms.audit import AuditContext
from edms.errors import N_
from edms.inspection.package import READING, SEALING, WRITING, NothingToExport, Scope
from edms.jobs.errors import PermanentJobError
from edms.timeutil import utc_now

EXPORT = "inspection.export"
DELIVER_OUTBOX = "outbox.deliver"
ESCALATE = "escalate"
ARCHIVE_TIMESTAMPS = "archive.timestamps"
FREEZE_RENDITION = frozen_renditions.FREEZE
# In the order of their intervals in the settings (edms.application.jobs.schedule).
PERIODIC = (DELIVER_OUTBOX, ESCALATE, ARCHIVE_TIMESTAMPS)

KIND_LABELS = {
    EXPORT: N_("Inspection package"),
    DELIVER_OUTBOX: N_("Outbox delivery"),
    ESCALATE: N_("Escalation of overdue tasks"),
    ARCHIVE_TIMESTAMPS: N_("Archive time-stamps"),
    FREEZE_RENDITION: N_("Word rendition of a signed record"),
}
PHASE_LABELS = {
    "building": N_("Building the package"),
    READING: N_("Reading the records"),
    WRITING: N_("Writing the files of the package"),
    SEALING: N_("Sealing the package"),
    "storing": N_("Storing the package"),
    "working": N_("Working"),
}
# How often at most a job's progress is written to the database while it moves (the first and the last step of
# each phase are always written).
PROGRESS_EVERY_SECONDS = 0.5


@dataclass(frozen=True)
class Progress:
    """What a job's work reports: its phase and how far it is (which also extends the lease)."""

    beat: Callable[..., bool]

    def __call__(self, phase: str, done: int, total: int) -> bool:
        return self.beat(phase=phase, done=done, total=total)


class Throttled:
    """A package builder's `progress(done, total, phase)` fed to a job's Progress at most every `every` seconds
    (one database write each), always at a new phase or total and at the last step."""

    def __init__(self, progress: Progress, every: float = PROGRESS_EVERY_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._progress, self._every, self._clock = progress, every, clock
        self._last: tuple[float, int, str] | None = None

    def __call__(self, done: int, total: int, phase: str) -> None:
        now = self._clock()
        last = self._last
        if last is not None and last[1:] == (total, phase) and done < total and now - last[0] < self._every:
            return
        self._last = (now, total, phase)
        self._progress(phase, done, total)


@dataclass(frozen=True)
class JobCall:
    job_id: int
    parameters: dict[str, Any]
    requested_by: int | None
    ctx: AuditContext  # the worker's
    progress: Progress


def _requester_context(call: JobCall) -> AuditContext:
    """The work is recorded as the requester's act (as when it ran in their request), from where they asked;
    a scheduled job's as the worker's."""
    if call.requested_by is None:
        return call.ctx
    return AuditContext(user_id=call.requested_by, user_name=str(call.parameters.get("user_name") or "?"),
                        client_addr=call.parameters.get("client_addr"))


def export_package(services: Services, call: JobCall) -> dict[str, Any]:
    parameters = call.parameters
    scope = Scope(parameters["scope"], int(parameters["id"]))
    call.progress("building", 0, 0)
    with TemporaryFile(prefix="edms-package-") as out:
        try:
            with command(services.sessions) as session:
                exported = inspection.export(services, session, _requester_context(call), scope, out,
                                             language=parameters.get("language", "en"),
                                             display_tz=parameters.get("display_tz", "UTC"),
                                             progress=Throttled(call.progress))
        except NothingToExport as exc:  # the case or document is gone: no later attempt finds it
            raise PermanentJobError(exc.message, **exc.params) from exc
        call.progress("storing", exported.files, exported.files)
        out.seek(0)
        sha256 = services.blobs.put(out.read())
    if sha256 != exported.sha256:
        raise RuntimeError(f"the stored package hashes to {sha256}, not {exported.sha256}")
    return {"sha256": sha256, "filename": exported.filename, "size": exported.size, "documents": exported.documents,
            "versions": exported.versions, "signatures": exported.signatures, "export_seq": exported.export_seq}


def deliver_outbox(services: Services, call: JobCall) -> dict[str, Any]:
    call.progress("working", 0, 1)
    report = notifications.deliver(services, None, _requester_context(call))
    return {"configured": report.configured, "sent": report.sent, "failed": report.failed, "waiting": report.waiting}


def escalate(services: Services, call: JobCall) -> dict[str, Any]:
    call.progress("working", 0, 1)
    with command(services.sessions) as session:
        made = escalate_overdue(services, session, _requester_context(call), utc_now())
        return {"escalations": len(made)}


def archive_timestamps(services: Services, call: JobCall) -> dict[str, Any]:
    call.progress("working", 0, 1)
    reports = archiving.archive_timestamps(services, None, _requester_context(call), archiving.ArchivePolicy())
    problems = [f"{item}: {problem}" for report in reports for item, problem in report.problems]
    if problems:
        raise RuntimeError("; ".join(problems)[:2000])
    return {report.name: {"examined": report.examined, "added": report.added} for report in reports}


def freeze_rendition(services: Services, call: JobCall) -> dict[str, Any]:
    call.progress("working", 0, 1)
    return frozen_renditions.freeze(services, call.ctx, int(call.parameters["document_id"]))


KINDS: dict[str, Callable[[Services, JobCall], dict[str, Any]]] = {
    EXPORT: export_package,
    DELIVER_OUTBOX: deliver_outbox,
    ESCALATE: escalate,
    ARCHIVE_TIMESTAMPS: archive_timestamps,
    FREEZE_RENDITION: freeze_rendition,
}
