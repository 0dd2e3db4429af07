"""Jobs over the API: a job's state, and its result (an inspection package) once it has succeeded."""
from __future__ import annotations

from flask import Response, g, jsonify

from edms.api import schemas as S
from edms.api.blueprint import bp, token_required
from edms.api.openapi import operation
from edms.application import jobs
from edms.jobs.queries import job_by_id
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
@operation("A job: its status (queued, running, succeeded, failed), attempts, phase and progress, and its result "
           "or last error. The requester sees their jobs; administrators see every job",
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
