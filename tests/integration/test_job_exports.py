"""Inspection packages as jobs (issue 16): the page and the API queue the export and return at once, the
worker builds the package, a build that dies midway leaves no package and is retried, and only the requester
and the people who may export take the package away, each download audited."""
from __future__ import annotations

import hashlib
import io
import json
import tempfile

import pytest

from edms.application import job_kinds
from edms.application.jobs import DOWNLOADED, run_next
from edms.jobs.models import Job
from edms.verifier.package import verify_package
from tests.conftest import csrf_token, sign_in
from tests.support.documents import Api
from tests.support.inspection import INSPECTOR, events, inspector, inspector_client, run_jobs  # noqa: F401


def _queue(client, case_id: int) -> str:
    timeline = client.get(f"/inspection/cases/{case_id}").get_data(as_text=True)
    response = client.post(f"/inspection/cases/{case_id}/export", data={"csrf_token": csrf_token(timeline)})
    assert response.status_code == 302 and "/jobs/" in response.headers["Location"]
    return response.headers["Location"]


def _job(app, job_id: int) -> Job:
    with app.extensions["edms"].sessions() as session:
        return session.get(Job, job_id)


def _blobs(app) -> set[str]:
    return set(app.extensions["edms"].blobs.iter_hashes())


class _KilledMidPackage:
    """A temporary file that takes half of the first bytes written to it, then dies (as a killed worker would)."""

    def __init__(self, *args, **kwargs) -> None:
        self.file = tempfile.TemporaryFile()

    def write(self, data) -> int:
        self.file.write(bytes(data)[: len(data) // 2])
        raise OSError("worker killed while writing the package (simulated)")

    def __getattr__(self, name):
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()


@pytest.mark.req("11.10(b)")
@pytest.mark.req("11.10(e)")
def test_the_export_page_returns_at_once_and_the_job_page_shows_progress_then_the_download(
        app, signed_case, inspector_client):
    job_page = _queue(inspector_client, signed_case.case_id)
    job_id = int(job_page.rstrip("/").rsplit("/", 1)[1])
    waiting = inspector_client.get(job_page).get_data(as_text=True)
    assert 'id="job-progress"' in waiting and "Waiting for a worker" in waiting and 'http-equiv="refresh"' in waiting
    assert events(app, "inspection.exported") == []  # nothing was built in the request
    assert inspector_client.get(f"/jobs/{job_id}/download").status_code == 404  # not ready yet
    status = inspector_client.get(f"/jobs/{job_id}/status").json
    assert (status["status"], status["finished"], status["status_text"]) == ("queued", False, "Waiting")

    assert run_jobs(app) == [job_id]
    done = inspector_client.get(job_page).get_data(as_text=True)
    assert 'id="job-download"' in done and 'id="job-progress"' not in done and "http-equiv" not in done
    package = inspector_client.get(f"/jobs/{job_id}/download")
    assert package.status_code == 200 and package.mimetype == "application/zip"
    assert package.headers["X-Content-SHA256"] == hashlib.sha256(package.data).hexdigest() == _job(app, job_id).result["sha256"]
    report = verify_package(io.BytesIO(package.data))
    assert report.ok, [item.line() for item in report.failures]
    (exported,) = events(app, "inspection.exported")
    assert exported.actor_name == INSPECTOR[1]  # the requester's act, though the worker made it
    (downloaded,) = events(app, DOWNLOADED)
    assert downloaded.actor_name == INSPECTOR[1] and downloaded.object_id == str(job_id)
    assert [e.action for e in events(app, "job.requested") + events(app, "job.started") + events(app, "job.succeeded")] \
        == ["job.requested", "job.started", "job.succeeded"]
    assert f'href="/jobs/{job_id}"' in inspector_client.get("/jobs/").get_data(as_text=True)


def test_a_package_build_that_dies_midway_leaves_no_package_and_the_retry_records_one(
        app, signed_case, inspector_client, monkeypatch):
    job_id = int(_queue(inspector_client, signed_case.case_id).rstrip("/").rsplit("/", 1)[1])
    before = _blobs(app)
    monkeypatch.setattr(job_kinds, "TemporaryFile", _KilledMidPackage)
    assert run_next(app.extensions["edms"], "worker-1") == job_id
    died = _job(app, job_id)
    assert (died.status, died.result) == ("queued", None) and "simulated" in died.last_error
    assert _blobs(app) == before  # no half package stored anywhere

    monkeypatch.undo()
    assert run_next(app.extensions["edms"], "worker-2") == job_id
    done = _job(app, job_id)
    assert (done.status, done.attempts) == ("succeeded", 2) and "simulated" in done.last_error
    assert _blobs(app) - before == {done.result["sha256"]}  # one complete package, the one recorded
    assert len(events(app, "job.retried")) == 1 and len(events(app, "job.succeeded")) == 1
    retried = json.loads(events(app, "job.retried")[0].changes)
    assert "simulated" in retried["last_error"]["new"]


def test_only_the_requester_the_exporters_and_administrators_see_a_package_job(app, client, people, signed_case,
                                                                             inspector_client):
    job_page = _queue(inspector_client, signed_case.case_id)
    run_jobs(app)
    author = app.test_client()
    people.make("kenji.tanabe", "author", printed_name="Kenji Tanabe")
    sign_in(author, "kenji.tanabe")
    assert author.get(job_page).status_code == 403
    assert author.get(job_page.rstrip("/") + "/download").status_code == 403
    assert job_page not in author.get("/jobs/").get_data(as_text=True)
    administrator = app.test_client()
    people.make("daisuke.kato", "admin", printed_name="Daisuke Kato")
    sign_in(administrator, "daisuke.kato")
    listing = administrator.get("/jobs/").get_data(as_text=True)
    assert f'href="{job_page}"' in listing and INSPECTOR[1] in listing
    assert administrator.get(job_page.rstrip("/") + "/download").status_code == 404  # may see it, not take it away
    qa = app.test_client()
    people.make("emi.kobayashi", "qa", printed_name="Emi Kobayashi")
    sign_in(qa, "emi.kobayashi")
    assert qa.get(job_page.rstrip("/") + "/download").status_code == 200
    assert [e.actor_name for e in events(app, DOWNLOADED)] == ["Emi Kobayashi"]


def test_the_api_answers_202_with_the_job_and_gives_the_package_once_it_is_built(app, client, signed_case, inspector):
    api = Api(client, INSPECTOR[0])
    document_id = signed_case.documents[0]
    response = api.post(f"/documents/{document_id}/export?language=ja")
    assert response.status_code == 202 and response.json["status"] == "queued"
    location = response.headers["Location"]
    assert location == f"/api/v1/jobs/{response.json['id']}"
    assert api.get(location.removeprefix("/api/v1")).json["status"] == "queued"
    assert api.get(f"{location.removeprefix('/api/v1')}/result").status_code == 409
    assert api.post("/documents/999999/export").status_code == 404
    run_jobs(app)
    job = api.get(location.removeprefix("/api/v1")).json
    assert job["status"] == "succeeded" and job["finished"] and job["finished_at"].endswith("Z")
    package = api.get(f"{location.removeprefix('/api/v1')}/result")
    assert package.status_code == 200 and hashlib.sha256(package.data).hexdigest() == job["result"]["sha256"]
    stranger = Api(client, _stranger(app))
    assert stranger.get(location.removeprefix("/api/v1")).status_code == 403
    spec = client.get("/api/v1/openapi.json").json["paths"]
    assert "/jobs/{job_id}" in spec and "/jobs/{job_id}/result" in spec


def _stranger(app) -> str:
    from tests.support.people import People

    services = app.extensions["edms"]
    People(settings=services.settings, sessions=services.sessions).make("kenji.tanabe", "author")
    return "kenji.tanabe"


def test_an_administrator_starts_an_outbox_delivery_over_the_api_and_only_one_waits_at_a_time(app, client, people):
    people.make("daisuke.kato", "admin", printed_name="Daisuke Kato")
    api = Api(client, "daisuke.kato")
    started = api.post("/jobs", json={"kind": "outbox.deliver"})
    assert started.status_code == 202 and started.headers["Location"] == f"/api/v1/jobs/{started.json['id']}"
    assert api.post("/jobs", json={"kind": "outbox.deliver"}).status_code == 409
    assert api.post("/jobs", json={"kind": "inspection.export"}).status_code == 400
    run_jobs(app)
    job = api.get(f"/jobs/{started.json['id']}").json
    assert job["status"] == "succeeded" and job["result"]["configured"] is False
    assert api.post("/jobs", json={"kind": "outbox.deliver"}).status_code == 202  # the first one has finished
    (requested, *_rest) = events(app, "job.requested")
    assert requested.actor_name == "Daisuke Kato"
    people.make("kenji.tanabe", "author")
    assert Api(client, "kenji.tanabe").post("/jobs", json={"kind": "escalate"}).status_code == 403
