"""Jobs reachable by people (issue 16): administrators see the schedule of the periodic jobs and start one
now from the jobs page; an export's progress moves per file (written at most every half second); a failed job
shows its error in the reader's language, the raw text to administrators, who may retry it (a new job with
the same parameters, audited); the jobs list is read by keyset pages."""
from __future__ import annotations

import io
import json
import re

import pytest

from edms.application import inspection
from edms.application.job_kinds import ESCALATE, EXPORT, PERIODIC, Throttled
from edms.application.unit_of_work import command
from edms.audit import AuditContext
from edms.inspection.package import CASE, READING, SEALING, WRITING, Scope
from edms.jobs import operations
from edms.jobs.models import FAILED, Job
from edms.timeutil import utc_now
from tests.conftest import csrf_token, sign_in
from tests.support.documents import Api
from tests.support.inspection import INSPECTOR, events, inspector, inspector_client, run_jobs  # noqa: F401

ADMIN = ("daisuke.kato", "Daisuke Kato")
REQUESTER = AuditContext(user_id=None, user_name=INSPECTOR[1], client_addr="127.0.0.1")


@pytest.fixture
def admin_client(app, people):
    people.make(ADMIN[0], "admin", printed_name=ADMIN[1])
    client = app.test_client()
    assert sign_in(client, ADMIN[0]).status_code == 302
    return client


def _job(app, job_id: int) -> Job:
    with app.extensions["edms"].sessions() as session:
        return session.get(Job, job_id)


def _japanese(client) -> None:
    home = client.get("/").get_data(as_text=True)
    client.post("/language", data={"language": "ja", "csrf_token": csrf_token(home)})


def _failed_export(app, requested_by: int, case_id: int = 987654) -> int:
    """An export of a case that does not exist, asked with one attempt: the worker fails it with a known error."""
    with command(app.extensions["edms"].sessions) as session:
        job = operations.request(session, REQUESTER, EXPORT, {
            "scope": CASE, "id": case_id, "case_id": case_id, "language": "en", "display_tz": "UTC",
            "client_addr": "127.0.0.1", "user_name": INSPECTOR[1]}, requested_by=requested_by, now=utc_now(),
            max_attempts=1)
        job_id = job.id
    assert run_jobs(app) == [job_id]
    return job_id


# --- the schedule and "Run now" ------------------------------------------------------------------------------


@pytest.mark.req("11.10(e)")
def test_an_administrator_sees_each_periodic_job_with_its_schedule_and_starts_one_now_from_the_jobs_page(
        app, admin_client):
    page = admin_client.get("/jobs/").get_data(as_text=True)
    assert 'id="schedule-table"' in page and page.count('class="run-now"') == len(PERIODIC)
    assert "Never run" in page
    response = admin_client.post("/jobs/run", data={"kind": ESCALATE, "csrf_token": csrf_token(page)})
    assert response.status_code == 302
    job_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert _job(app, job_id).kind == ESCALATE
    waiting = admin_client.get("/jobs/").get_data(as_text=True)
    assert page.count('class="run-now"') - 1 == waiting.count('class="run-now"')  # not twice while it waits
    again = admin_client.post("/jobs/run", data={"kind": ESCALATE, "csrf_token": csrf_token(page)})
    assert again.status_code == 302 and again.headers["Location"].endswith("/jobs/")
    assert len(events(app, "job.requested")) == 1
    (requested,) = events(app, "job.requested")
    assert requested.actor_name == ADMIN[1]
    assert run_jobs(app) == [job_id]
    done = admin_client.get("/jobs/").get_data(as_text=True)
    last = re.search(r'id="schedule-escalate">(.*?)</tr>', done, re.S)
    assert last is not None and f'href="/jobs/{job_id}"' in last.group(1) and "Done" in last.group(1)
    assert admin_client.post("/jobs/run", data={"kind": "inspection.export", "csrf_token": csrf_token(page)}
                             ).status_code == 400


def test_the_schedule_and_run_now_are_in_japanese_for_a_japanese_administrator(app, admin_client):
    _japanese(admin_client)
    page = admin_client.get("/jobs/").get_data(as_text=True)
    assert "定期ジョブ" in page and "今すぐ実行" in page


def test_people_who_are_not_administrators_neither_see_the_schedule_nor_start_a_job(app, inspector_client):
    page = inspector_client.get("/jobs/").get_data(as_text=True)
    assert 'id="schedule-table"' not in page and "run-now" not in page
    assert inspector_client.post("/jobs/run", data={"kind": ESCALATE, "csrf_token": csrf_token(page)}
                                 ).status_code == 403
    assert events(app, "job.requested") == []


# --- progress per file --------------------------------------------------------------------------------------


def test_the_package_builder_reports_its_progress_per_file_from_zero_to_the_total(app, signed_case):
    services = app.extensions["edms"]
    seen: list[tuple[int, int, str]] = []
    with command(services.sessions) as session:
        exported = inspection.export(
            services, session, AuditContext.system("progress test"), Scope(CASE, signed_case.case_id), io.BytesIO(),
            progress=lambda done, total, phase: seen.append((done, total, phase)))
    assert seen[0] == (0, 0, READING)
    writing = [(done, total) for done, total, phase in seen if phase == WRITING]
    total = writing[0][1]
    assert writing[0] == (0, total) and writing[-1] == (total, total)
    assert [done for done, _ in writing] == list(range(total + 1))  # one step per record or file
    assert total > exported.versions  # each version's files, then each file of the trailer
    assert seen[-1] == (total, total, SEALING)


def test_a_throttled_progress_writes_at_most_every_half_second_but_always_a_new_phase_and_the_last_step():
    written: list[tuple[str, int, int]] = []
    clock = iter([0.0, 0.1, 0.2, 0.6, 0.7, 0.8, 0.9]).__next__
    progress = Throttled(lambda phase, done, total: written.append((phase, done, total)) or True, clock=clock)
    for done, total, phase in [(0, 0, READING), (0, 5, WRITING), (1, 5, WRITING), (2, 5, WRITING), (3, 5, WRITING),
                               (4, 5, WRITING), (5, 5, WRITING)]:
        progress(done, total, phase)
    assert written == [(READING, 0, 0), (WRITING, 0, 5), (WRITING, 2, 5), (WRITING, 5, 5)]


@pytest.mark.req("11.10(e)")
def test_an_export_jobs_progress_rows_go_from_zero_to_the_total_and_its_page_shows_them(
        app, signed_case, inspector_client, monkeypatch):
    timeline = inspector_client.get(f"/inspection/cases/{signed_case.case_id}").get_data(as_text=True)
    queued = inspector_client.post(f"/inspection/cases/{signed_case.case_id}/export",
                                   data={"csrf_token": csrf_token(timeline)})
    job_id = int(queued.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    rows: list[tuple[str | None, int | None, int | None]] = []
    pages: list[str] = []
    real_heartbeat = operations.heartbeat

    def heartbeat(session, job_id, owner, *, until, phase=None, done=None, total=None):
        beat = real_heartbeat(session, job_id, owner, until=until, phase=phase, done=done, total=total)
        if phase == WRITING and done is not None and not pages:
            session.commit()
            pages.append(inspector_client.get(f"/jobs/{job_id}").get_data(as_text=True))
        rows.append((phase, done, total))
        return beat

    monkeypatch.setattr(operations, "heartbeat", heartbeat)
    assert run_jobs(app) == [job_id]
    writing = [(done, total) for phase, done, total in rows if phase == WRITING]
    total = writing[0][1]
    assert total and writing[0] == (0, total) and writing[-1] == (total, total)
    assert [done for done, _ in writing] == sorted(done for done, _ in writing)
    assert f'max="{total}" value="0"' in pages[0] and f"0 / {total}" in pages[0]
    assert "Writing the files of the package" in pages[0]
    assert _job(app, job_id).status == "succeeded"


# --- failures: the error in the reader's language, the raw text, retry --------------------------------------


def test_a_failed_job_shows_its_known_error_in_the_readers_language_and_the_raw_text_only_to_administrators(
        app, inspector, inspector_client, admin_client):
    job_id = _failed_export(app, inspector.id)
    failed = _job(app, job_id)
    assert failed.status == FAILED and "NothingToExport" in failed.last_error
    english = inspector_client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "There is no case 987654 to export." in english and 'id="job-raw-error"' not in english
    assert 'id="job-retry"' not in english
    _japanese(inspector_client)
    japanese = inspector_client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "エクスポートする" in japanese and "There is no case" not in japanese
    admin_page = admin_client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert 'id="job-raw-error"' in admin_page and "NothingToExport" in admin_page and 'id="job-retry"' in admin_page
    assert inspector_client.get(f"/jobs/{job_id}/status").json["error_text"] == re.sub(
        r"<[^>]+>", "", re.search(r'id="job-error"[^>]*>[^:：]*[:：] ?([^<]*)</p>', japanese).group(1)).strip()


def test_an_unknown_error_is_described_in_general_words_to_its_requester(app, inspector, inspector_client):
    with command(app.extensions["edms"].sessions) as session:
        job = operations.request(session, REQUESTER, EXPORT, {"scope": "nonsense", "id": 1}, requested_by=inspector.id,
                                 now=utc_now(), max_attempts=1)
        job_id = job.id
    run_jobs(app)
    page = inspector_client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert _job(app, job_id).status == FAILED
    assert "an administrator can read it and retry the job" in page and _job(app, job_id).last_error not in page


@pytest.mark.req("11.10(e)")
def test_an_administrator_retries_a_failed_job_as_a_new_job_with_the_same_parameters_audited(
        app, inspector, inspector_client, admin_client):
    job_id = _failed_export(app, inspector.id)
    page = admin_client.get(f"/jobs/{job_id}").get_data(as_text=True)
    own = inspector_client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert inspector_client.post(f"/jobs/{job_id}/retry", data={"csrf_token": csrf_token(own)}).status_code == 403
    response = admin_client.post(f"/jobs/{job_id}/retry", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    again_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    failed, again = _job(app, job_id), _job(app, again_id)
    assert again_id != job_id and again.kind == failed.kind and again.status == "queued"
    kept = {key: value for key, value in failed.parameters.items() if key not in ("user_name", "client_addr")}
    assert {key: value for key, value in again.parameters.items() if key not in ("user_name", "client_addr")} \
        == {**kept, "retry_of": job_id}
    assert again.parameters["user_name"] == ADMIN[1]  # the work is now the administrator's act
    (asked,) = events(app, "job.retry_requested")
    assert asked.actor_name == ADMIN[1] and asked.object_id == str(job_id)
    assert json.loads(asked.changes)["retried_as"]["new"] == again_id
    requested = events(app, "job.requested", object_id=str(again_id))
    assert len(requested) == 1 and requested[0].actor_name == ADMIN[1]
    assert f'href="/jobs/{job_id}"' in admin_client.get(f"/jobs/{again_id}").get_data(as_text=True)


def test_only_a_failed_job_can_be_retried_and_nothing_is_queued_otherwise(app, admin_client):
    page = admin_client.get("/jobs/").get_data(as_text=True)
    started = admin_client.post("/jobs/run", data={"kind": ESCALATE, "csrf_token": csrf_token(page)})
    job_id = int(started.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    response = admin_client.post(f"/jobs/{job_id}/retry", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/jobs/{job_id}")
    assert "Only a failed job can be retried" in admin_client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert events(app, "job.retry_requested") == [] and len(events(app, "job.requested")) == 1


def test_an_administrator_retries_a_failed_job_over_the_api(app, client, inspector, people):
    people.make(ADMIN[0], "admin", printed_name=ADMIN[1])
    job_id = _failed_export(app, inspector.id)
    api = Api(client, ADMIN[0])
    again = api.post(f"/jobs/{job_id}/retry")
    assert again.status_code == 202 and again.headers["Location"] == f"/api/v1/jobs/{again.json['id']}"
    assert again.json["status"] == "queued" and again.json["kind"] == EXPORT
    assert api.post(f"/jobs/{again.json['id']}/retry").status_code == 409  # it has not failed
    assert api.post("/jobs/999999/retry").status_code == 404
    assert Api(client, INSPECTOR[0]).post(f"/jobs/{job_id}/retry").status_code == 403


# --- keyset pages ---------------------------------------------------------------------------------------------


def test_the_jobs_list_is_read_by_keyset_pages(app, admin_client):
    with command(app.extensions["edms"].sessions) as session:
        ids = [operations.request(session, REQUESTER, ESCALATE, {"n": n}, requested_by=None, now=utc_now(),
                                  max_attempts=1).id for n in range(55)]
    first = admin_client.get("/jobs/").get_data(as_text=True).split('id="jobs-table"')[1]
    cursor = re.search(r'id="next-page" href="/jobs/\?([^"]+)"', first)
    assert cursor is not None
    assert f'href="/jobs/{ids[-1]}"' in first and f'href="/jobs/{ids[0]}"' not in first
    second = admin_client.get("/jobs/?" + cursor.group(1).replace("&amp;", "&")).get_data(as_text=True)
    second = second.split('id="jobs-table"')[1]
    assert f'href="/jobs/{ids[0]}"' in second and f'href="/jobs/{ids[-1]}"' not in second
    assert 'id="next-page"' not in second
    assert admin_client.get("/jobs/?cursor=not-ours").status_code == 400
