"""Jobs over the API: a job's state, and its result (an inspection package) once it has succeeded."""
from __future__ import annotations

from flask import Response, g, jsonify, url_for

from edms.api import schemas as S
from edms.api.blueprint import bp, json_body, token_required
from edms.api.openapi import operation
from edms.application import jobs
from edms.application.job_kinds import PERIODIC
from edms.jobs.errors import JobError
from edms.jobs.queries import job_by_id
from edms.users.roles import ADMIN
from edms.web.errors import api_error
from edms.web.job_views import job_json
from edms.web.runtime import audit_context, db, services

RESPONSES = {"401": "No valid token", "403": "Neither the requester nor allowed to see it",
             "404": "No such job"}


def _job(job_id: int):
    job = job_by_id(db(), job_id)
    if job is None:
        return None, api_error(404, "not_found", "No such job.")
    if not jobs.readable(job, g.api_user):
        return None, api_error(403, "forbidden", "This job is not yours.")
    return job, None


@bp.get("/jobs/<int:job_id>")
@operation("A job: its status (queued, running, succeeded, failed), attempts, phase and progress (per file for an "
           "export), and its result or last error (a failed attempt whose error the application words keeps it as "
           "result.error: message and params; result.permanent is true when the job failed at once on an error trying "
           "again cannot mend, such as a case that no longer exists). The requester sees their jobs; administrators "
           "see every job",
           responses={"200": "OK", **RESPONSES}, schemas={"200": S.JOB})
@token_required()
def job_detail(job_id: int):
    job, refusal = _job(job_id)
    if refusal is not None:
        return refusal
    return jsonify(job_json(job))


@bp.get("/jobs/<int:job_id>/result")
@operation("The result of a finished export job: the inspection package (application/zip), the same bytes whose "
           "SHA-256 the job records (X-Content-SHA256). Recorded as inspection.package_downloaded",
           responses={"200": "The package", "409": "Not finished, failed, or no file to download", **RESPONSES},
           media_types={"200": "application/zip"})
@token_required()
def job_result(job_id: int):
    job, refusal = _job(job_id)
    if refusal is not None:
        return refusal
    if not jobs.may_download(job, g.api_user):
        return api_error(409, "not_ready", f"The job is {job.status}: there is no package to download.")
    filename, data = jobs.download(services(), db(), audit_context(), g.api_user, job)
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "X-Content-SHA256": (job.result or {})["sha256"]})


@bp.post("/jobs")
@operation("Start a periodic job now (administrators): outbox.deliver, escalate or archive.timestamps, as the "
           "Outbox page's 'Deliver pending now' does. 202 with the job (Location: its URL); 409 when one of that "
           "kind is already waiting or running (it does the same work). Audited as job.requested",
           body={"type": "object", "required": ["kind"], "properties": {"kind": {"enum": list(PERIODIC)}}},
           responses={"202": "Queued", "400": "Unknown kind", "401": "No valid token", "403": "Not an administrator",
                      "409": "One of that kind is already waiting or running"},
           schemas={"202": S.JOB})
@token_required(ADMIN)
def start_job():
    kind = json_body().get("kind")
    if kind not in PERIODIC:
        return api_error(400, "invalid_request", f"Give 'kind' as one of {', '.join(PERIODIC)}.",
                         {"kind": " or ".join(PERIODIC)})
    job = jobs.request_now(services(), db(), audit_context(), g.api_user, kind)
    if job is None:
        return api_error(409, "already_queued", f"A {kind} job is already waiting or running.")
    response = jsonify(job_json(job))
    response.status_code = 202
    response.headers["Location"] = url_for("api.job_detail", job_id=job.id)
    return response


@bp.post("/jobs/<int:job_id>/retry")
@operation("Run a failed job again (administrators): a new job of its kind with its parameters (retry_of names the "
           "failed one), the work then recorded as the administrator's. 202 with the new job (Location: its URL); "
           "409 when the job has not failed, or a job of that periodic kind is already waiting or running. Audited "
           "as job.requested (the new job) and job.retry_requested (the failed one)",
           responses={"202": "Queued", "401": "No valid token", "403": "Not an administrator", "404": "No such job",
                      "409": "Not failed, or one of that kind is already waiting or running"},
           schemas={"202": S.JOB})
@token_required(ADMIN)
def retry_job(job_id: int):
    job = job_by_id(db(), job_id)
    if job is None:
        return api_error(404, "not_found", "No such job.")
    try:
        again = jobs.retry(services(), db(), audit_context(), g.api_user, job)
    except JobError as exc:
        return api_error(409, "not_failed", str(exc))
    if again is None:
        return api_error(409, "already_queued", f"A {job.kind} job is already waiting or running.")
    response = jsonify(job_json(again))
    response.status_code = 202
    response.headers["Location"] = url_for("api.job_detail", job_id=again.id)
    return response
