"""A job whose error trying again cannot mend (the case it exports no longer exists, a kind this version does not
know) fails at once instead of using up its attempts, audited as such; its page tells the reader so, in their
language. An error that may pass (a time-stamp authority away for a moment) is still tried again."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from edms.application import job_kinds
from edms.application.job_kinds import EXPORT
from edms.application.unit_of_work import command
from edms.audit import AuditContext
from edms.audit.models import AuditEvent
from edms.inspection.package import CASE
from edms.jobs import operations
from edms.jobs.models import FAILED, QUEUED, Job
from edms.timeutil import utc_now
from tests.conftest import bearer, csrf_token, sign_in
from tests.support.inspection import INSPECTOR, run_jobs

ADMIN = ("daisuke.kato", "Daisuke Kato")
ATTEMPTS = 3


@pytest.fixture
def requester(app, people):
    person = people.make(INSPECTOR[0], "inspector", printed_name=INSPECTOR[1], timezone="Asia/Tokyo")
    people.make(ADMIN[0], "admin", printed_name=ADMIN[1])
    client = app.test_client()
    assert sign_in(client, INSPECTOR[0]).status_code == 302
    return {"id": person.id, "client": client}


def _request(app, requester, kind: str, parameters: dict) -> int:
    with command(app.extensions["edms"].sessions) as session:
        job = operations.request(session, AuditContext(user_id=requester["id"], user_name=INSPECTOR[1]), kind,
                                 {"client_addr": "127.0.0.1", "user_name": INSPECTOR[1], **parameters},
                                 requested_by=requester["id"], now=utc_now(), max_attempts=ATTEMPTS)
        return job.id


def _job(app, job_id: int) -> Job:
    with app.extensions["edms"].sessions() as session:
        return session.get(Job, job_id)


def _actions(app, job_id: int) -> list[tuple[str, dict]]:
    with app.extensions["edms"].sessions() as session:
        return [(event.action, json.loads(event.changes or "{}")) for event in session.scalars(
            select(AuditEvent).where(AuditEvent.object_type == "job", AuditEvent.object_id == str(job_id))
            .order_by(AuditEvent.seq))]


@pytest.mark.req("11.10(e)")
def test_an_export_of_a_case_that_no_longer_exists_fails_at_its_first_attempt_audited_as_permanent(app, requester):
    job_id = _request(app, requester, EXPORT, {"scope": CASE, "id": 987654, "case_id": 987654, "language": "en",
                                               "display_tz": "UTC"})
    assert run_jobs(app) == [job_id]  # once: not queued again
    job = _job(app, job_id)
    assert (job.status, job.attempts, job.max_attempts) == (FAILED, 1, ATTEMPTS)
    assert job.last_error == "NothingToExport: There is no case 987654 to export."
    assert job.result == {"error": {"message": "There is no case %(id)s to export.", "params": {"id": "987654"}},
                          "permanent": True}
    actions = _actions(app, job_id)
    assert [action for action, _ in actions] == ["job.requested", "job.started", "job.failed"]
    assert actions[-1][1]["permanent"] == {"old": None, "new": True}
    assert actions[-1][1]["status"] == {"old": "running", "new": FAILED}


def test_the_job_page_and_its_poller_say_that_trying_again_could_not_help_in_english_and_japanese(app, requester):
    job_id = _request(app, requester, EXPORT, {"scope": CASE, "id": 987654, "case_id": 987654})
    run_jobs(app)
    client = requester["client"]
    english = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert 'id="job-permanent"' in english and "Trying again cannot mend this error" in english
    assert "(1 of 3 attempts used)" in english
    assert client.get(f"/jobs/{job_id}/status").json["permanent"] is True
    client.post("/language", data={"language": "ja", "csrf_token": csrf_token(english)})
    japanese = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert 'id="job-permanent"' in japanese and "Trying again cannot mend" not in japanese
    api = client.get(f"/api/v1/jobs/{job_id}", headers=bearer(app.test_client(), INSPECTOR[0])).json
    assert api["status"] == FAILED and api["result"]["permanent"] is True and api["attempts"] == 1


def test_a_job_of_a_kind_this_version_does_not_know_fails_at_once(app, requester):
    job_id = _request(app, requester, "reports.monthly", {})
    assert run_jobs(app) == [job_id]
    job = _job(app, job_id)
    assert (job.status, job.attempts) == (FAILED, 1)
    assert job.result["permanent"] is True
    page = requester["client"].get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "This version of the application has no job of kind reports.monthly." in page


def test_an_error_that_may_pass_is_still_tried_again_until_the_attempts_are_used(app, requester, monkeypatch):
    def unreachable(services, call):
        raise ConnectionRefusedError("the time-stamp authority did not answer")

    monkeypatch.setitem(job_kinds.KINDS, "test.unreachable", unreachable)
    job_id = _request(app, requester, "test.unreachable", {})
    assert run_jobs(app) == [job_id] * ATTEMPTS
    job = _job(app, job_id)
    assert (job.status, job.attempts) == (FAILED, ATTEMPTS)
    assert not (job.result or {}).get("permanent")
    assert [action for action, _ in _actions(app, job_id)].count("job.retried") == ATTEMPTS - 1
    assert 'id="job-permanent"' not in requester["client"].get(f"/jobs/{job_id}").get_data(as_text=True)


def test_an_administrator_may_still_retry_a_job_that_failed_permanently(app, requester):
    job_id = _request(app, requester, EXPORT, {"scope": CASE, "id": 987654, "case_id": 987654})
    run_jobs(app)
    admin = app.test_client()
    assert sign_in(admin, ADMIN[0]).status_code == 302
    page = admin.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert 'id="job-retry"' in page and 'id="job-permanent"' in page
    response = admin.post(f"/jobs/{job_id}/retry", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    again = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert _job(app, again).status == QUEUED
