"""Jobs as people see them: their own jobs (administrators: every job), one job's progress and outcome
(polled by edms.js; the page refreshes itself without JavaScript), and an inspection package's download."""
from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, render_template, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from edms.application import jobs as job_use_cases
from edms.application.job_kinds import EXPORT, KIND_LABELS, PHASE_LABELS
from edms.jobs.models import STATUS_LABELS, Job
from edms.jobs.queries import job_by_id, jobs_query
from edms.timeutil import isoformat_utc
from edms.users.roles import ADMIN
from edms.web.paging import next_page_args, page_of
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
        abort(403)
    return job


@bp.get("/")
@login_required
def index():
    everyone = current_user.has_role(ADMIN)
    page = page_of(jobs_query(requested_by=None if everyone else current_user.id), [Job.id])  # newest first
    return render_template("jobs/index.html", jobs=page.items, everyone=everyone, kinds=KIND_LABELS,
                           statuses=STATUS_LABELS, next_page=next_page_args(page))


@bp.get("/<int:job_id>")
@login_required
def detail(job_id: int):
    job = readable_job(job_id)
    return render_template("jobs/detail.html", job=job, kinds=KIND_LABELS, statuses=STATUS_LABELS,
                           phases=PHASE_LABELS, refresh=None if job.finished else REFRESH_SECONDS,
                           downloadable=job.kind == EXPORT and job_use_cases.may_download(job, current_user))


@bp.get("/<int:job_id>/status")
@login_required
def status(job_id: int):
    """What the page's progress bar polls."""
    job = readable_job(job_id)
    phase = PHASE_LABELS.get(job.phase)
    return jsonify({**job_json(job), "page": url_for("jobs.detail", job_id=job.id),
                    "status_text": gettext(STATUS_LABELS[job.status]),
                    "phase_text": gettext(phase) if phase else gettext("Waiting for a worker")})


@bp.get("/<int:job_id>/download")
@login_required
def download(job_id: int):
    job = readable_job(job_id)
    if not job_use_cases.may_download(job, current_user):
        abort(404)
    filename, data = job_use_cases.download(services(), db(), audit_context(), current_user.user, job)
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "X-Content-SHA256": (job.result or {}).get("sha256", "")})
