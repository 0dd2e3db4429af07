"""Jobs as people see them: their own jobs (administrators: every job, the schedule of the periodic jobs with
"Run now", and "Retry" on a failed job), one job's progress and outcome (polled by edms.js; the page refreshes
itself without JavaScript), its error in the reader's language, and an inspection package's download."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from edms.application import jobs as job_use_cases
from edms.application.job_kinds import EXPORT, KIND_LABELS, PHASE_LABELS
from edms.jobs.errors import JobError
from edms.jobs.models import FAILED, STATUS_LABELS, Job
from edms.jobs.queries import NEWEST_FIRST, job_by_id, jobs_query
from edms.timeutil import isoformat_utc
from edms.users.roles import ADMIN
from edms.web.guards import roles_required
from edms.web.paging import next_page_args, page_of
from edms.web.refusals import refuse
from edms.web.runtime import audit_context, db, services

bp = Blueprint("jobs", __name__, url_prefix="/jobs")
REFRESH_SECONDS = 2


def job_json(job: Job) -> dict:
    """A job as the page's poller and the API read it."""
    return {
        "id": job.id, "kind": job.kind, "status": job.status, "attempts": job.attempts,
        "max_attempts": job.max_attempts, "phase": job.phase,
        "progress": {"done": job.progress_done, "total": job.progress_total},
        "requested_at": isoformat_utc(job.requested_at),
        "started_at": isoformat_utc(job.started_at) if job.started_at else None,
        "finished_at": isoformat_utc(job.finished_at) if job.finished_at else None,
        "finished": job.finished, "result": job.result, "last_error": job.last_error,
    }


def readable_job(job_id: int) -> Job:
    job = job_by_id(db(), job_id)
    if job is None:
        abort(404)
    if not job_use_cases.readable(job, current_user):
        refuse("the job is another person's")
    return job


@bp.get("/")
@login_required
def index():
    """Newest first, a keyset page at a time; administrators also see the schedule of the periodic jobs."""
    everyone = current_user.has_role(ADMIN)
    page = page_of(jobs_query(requested_by=None if everyone else current_user.id), NEWEST_FIRST)
    schedule = job_use_cases.scheduled(services(), db()) if everyone else []
    return render_template("jobs/index.html", jobs=page.items, everyone=everyone, kinds=KIND_LABELS,
                           statuses=STATUS_LABELS, schedule=schedule, next_page=next_page_args(page))


@bp.post("/run")
@roles_required(ADMIN)
def run_now():
    """An administrator starts a periodic job now (the worker runs it): its page follows it."""
    kind = request.form.get("kind", "")
    try:
        job = job_use_cases.request_now(services(), db(), audit_context(), current_user.user, kind)
    except JobError as exc:
        abort(400, gettext(exc.message, **exc.params))
    if job is None:
        flash(gettext("A job of this kind is already waiting or running: it does the same work."), "info")
        return redirect(url_for("jobs.index"))
    return redirect(url_for("jobs.detail", job_id=job.id))


@bp.post("/<int:job_id>/retry")
@roles_required(ADMIN)
def retry(job_id: int):
    """An administrator runs a failed job again (a new job, same parameters): its page follows it."""
    job = readable_job(job_id)
    try:
        again = job_use_cases.retry(services(), db(), audit_context(), current_user.user, job)
    except JobError as exc:
        flash(gettext(exc.message, **exc.params), "error")
        return redirect(url_for("jobs.detail", job_id=job_id))
    if again is None:
        flash(gettext("A job of this kind is already waiting or running: it does the same work."), "info")
        return redirect(url_for("jobs.index"))
    return redirect(url_for("jobs.detail", job_id=again.id))


@bp.get("/<int:job_id>")
@login_required
def detail(job_id: int):
    job = readable_job(job_id)
    admin = current_user.has_role(ADMIN)
    return render_template("jobs/detail.html", job=job, kinds=KIND_LABELS, statuses=STATUS_LABELS,
                           phases=PHASE_LABELS, refresh=None if job.finished else REFRESH_SECONDS,
                           downloadable=job.kind == EXPORT and job_use_cases.may_download(job, current_user),
                           error_text=error_text(job), raw_error=admin, retryable=admin and job.status == FAILED,
                           permanent=job_use_cases.failed_permanently(job),
                           retry_of=job.parameters.get("retry_of") if isinstance(job.parameters, dict) else None)


def error_text(job: Job) -> str | None:
    """The job's last error in the reader's language where it is one the application words; else a general
    sentence (administrators read the raw text beside it). None when the job has no error."""
    if not job.last_error:
        return None
    known = job_use_cases.known_error(job)
    if known is not None:
        message, params = known
        return gettext(message, **params)
    return gettext("The job failed for a reason the application does not describe; an administrator can read it "
                   "and retry the job.")


@bp.get("/<int:job_id>/status")
@login_required
def status(job_id: int):
    """What the page's progress bar polls."""
    job = readable_job(job_id)
    phase = PHASE_LABELS.get(job.phase)
    return jsonify({**job_json(job), "page": url_for("jobs.detail", job_id=job.id),
                    "status_text": gettext(STATUS_LABELS[job.status]),
                    "phase_text": gettext(phase) if phase else gettext("Waiting for a worker"),
                    "error_text": error_text(job), "permanent": job_use_cases.failed_permanently(job)})


@bp.get("/<int:job_id>/download")
@login_required
def download(job_id: int):
    job = readable_job(job_id)
    if not job_use_cases.may_download(job, current_user):
        abort(404)
    filename, data = job_use_cases.download(services(), db(), audit_context(), current_user.user, job)
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "X-Content-SHA256": (job.result or {}).get("sha256", "")})
