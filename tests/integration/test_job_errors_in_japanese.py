"""A failed export or job is explained to its reader wholly in their language: no English word from an
exception, a time-stamp authority's answer or a scope's id leaks into the Japanese page or its poller; the raw
text stays for administrators (21 CFR 11.10(b): records and their state readable by people; JP ER/ES
guideline: shown in Japanese)."""
from __future__ import annotations

import re
import socket
from dataclasses import replace

import pytest
from sqlalchemy import select

from edms.application import job_kinds
from edms.application.job_kinds import EXPORT
from edms.application.unit_of_work import command
from edms.audit import AuditContext
from edms.audit.checkpoints import CheckpointError
from edms.documents.models import Document
from edms.errors import N_
from edms.inspection.package import CASE, DOCUMENT, ExportError
from edms.jobs import operations
from edms.jobs.models import FAILED, Job
from edms.timeutil import utc_now
from tests.conftest import csrf_token, sign_in
from tests.support.inspection import INSPECTOR, run_jobs

ADMIN = ("daisuke.kato", "Daisuke Kato")
# What may stay in Latin letters on a Japanese page: none in the error sentence itself.
ASCII_WORD = re.compile(r"[A-Za-z]{2,}")
RAISING = "test.raising"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def reader(app, people):
    """The inspector who asks for the exports, reading in Japanese; an administrator beside."""
    person = people.make(INSPECTOR[0], "inspector", printed_name=INSPECTOR[1], timezone="Asia/Tokyo")
    people.make(ADMIN[0], "admin", printed_name=ADMIN[1])
    client, admin = app.test_client(), app.test_client()
    assert sign_in(client, INSPECTOR[0]).status_code == 302
    assert sign_in(admin, ADMIN[0]).status_code == 302
    client.post("/language", data={"language": "ja", "csrf_token": csrf_token(client.get("/").get_data(as_text=True))})
    admin.post("/language", data={"language": "ja", "csrf_token": csrf_token(admin.get("/").get_data(as_text=True))})
    return {"id": person.id, "client": client, "admin": admin}


def _request(app, reader, kind: str, parameters: dict) -> int:
    with command(app.extensions["edms"].sessions) as session:
        job = operations.request(session, AuditContext(user_id=reader["id"], user_name=INSPECTOR[1]), kind,
                                 {"language": "ja", "display_tz": "Asia/Tokyo", "client_addr": "127.0.0.1",
                                  "user_name": INSPECTOR[1], **parameters},
                                 requested_by=reader["id"], now=utc_now(), max_attempts=1)
        return job.id


def _export(app, reader, scope: str, scope_id: int) -> int:
    return _request(app, reader, EXPORT, {"scope": scope, "id": scope_id, "case_id": scope_id})


def _error_sentence(page: str) -> str:
    found = re.search(r'id="job-error"[^>]*>(.*?)</p>', page, re.S)
    assert found, page
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def _assert_japanese(app, reader, job_id: int) -> str:
    with app.extensions["edms"].sessions() as session:
        assert session.get(Job, job_id).status == FAILED
    page = reader["client"].get(f"/jobs/{job_id}").get_data(as_text=True)
    sentence = _error_sentence(page)
    assert not ASCII_WORD.findall(sentence), sentence
    polled = reader["client"].get(f"/jobs/{job_id}/status").json
    for key in ("error_text", "status_text", "phase_text"):
        assert not ASCII_WORD.findall(polled[key] or ""), (key, polled[key])
    admin_page = reader["admin"].get(f"/jobs/{job_id}").get_data(as_text=True)
    assert 'id="job-raw-error"' in admin_page  # the raw text, English, for administrators
    return sentence


def test_an_export_of_a_case_or_document_that_does_not_exist_is_explained_in_japanese(app, reader):
    case_job, document_job = _export(app, reader, CASE, 987654), _export(app, reader, DOCUMENT, 123456)
    assert sorted(run_jobs(app)) == sorted([case_job, document_job])
    assert "987654" in _assert_japanese(app, reader, case_job)
    assert "123456" in _assert_japanese(app, reader, document_job)


def test_an_export_whose_time_stamp_authority_does_not_answer_is_explained_in_japanese_without_its_english_reason(
        app, reader, client, people, organisation_pki):
    from tests.conftest import bearer
    from tests.support.documents import ensure_signers
    from tests.support.examples import VALUES

    people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    ensure_signers(people, app.extensions["edms"].document_types["deviation_report"])
    created = client.post("/api/v1/documents", headers=bearer(client, "akiko.tanaka"), json={
        "type": "deviation_report", "title": "Low viability, lot L2026-0412", "values": VALUES["deviation_report"]})
    assert created.status_code == 201, created.json
    job_id = _export(app, reader, DOCUMENT, created.json["id"])
    services = app.extensions["edms"]
    unreachable = replace(services, _opened={},  # its own system signer, asking the unreachable authority
                          settings=replace(services.settings, tsa_url=f"http://127.0.0.1:{_closed_port()}/tsa"))
    from edms.application.jobs import run_next

    assert run_next(unreachable) == job_id
    with services.sessions() as session:
        assert "time-stamp" in session.get(Job, job_id).last_error
    sentence = _assert_japanese(app, reader, job_id)
    assert "タイムスタンプ" in sentence
    with services.sessions() as session:
        assert session.scalars(select(Document.id)).all() == [created.json["id"]]


@pytest.mark.parametrize("error", [
    ExportError(N_("The records kept changing while they were exported: try again.")),
    ExportError(N_("The checkpoint signature does not verify: %(reason)s"), reason="signature mismatch for key 3"),
    ExportError(N_("The time-stamp for the checkpoint does not verify: %(reason)s"), reason="bad nonce"),
    CheckpointError(N_("The audit trail is empty: there is nothing to sign yet.")),
    RuntimeError("the stored package hashes to 00ff, not 11ee"),
    KeyError("scope"),
], ids=lambda error: type(error).__name__ + ":" + str(error)[:20])
def test_every_other_export_failure_is_explained_in_japanese(app, reader, monkeypatch, error):
    def raising(services, call):
        raise error

    monkeypatch.setitem(job_kinds.KINDS, RAISING, raising)
    job_id = _request(app, reader, RAISING, {"scope": CASE, "id": 1})
    assert run_jobs(app) == [job_id]
    _assert_japanese(app, reader, job_id)


def test_a_job_whose_worker_stopped_is_explained_in_japanese(app, reader):
    job_id = _export(app, reader, CASE, 987654)
    with command(app.extensions["edms"].sessions) as session:
        job = session.get(Job, job_id)
        job.status, job.last_error, job.finished_at = FAILED, operations.LEASE_EXPIRED, utc_now()
    _assert_japanese(app, reader, job_id)


def test_a_failure_recorded_in_the_former_words_is_still_explained_in_japanese(app, reader):
    """Jobs failed before "case" and "document" were worded apart keep {"what": "case 987654"}."""
    job_id = _export(app, reader, CASE, 987654)
    with command(app.extensions["edms"].sessions) as session:
        job = session.get(Job, job_id)
        job.status, job.finished_at = FAILED, utc_now()
        job.last_error = "NothingToExport: There is no case 987654 to export."
        job.result = {"error": {"message": "There is no %(what)s to export.", "params": {"what": "case 987654"}}}
    assert "987654" in _assert_japanese(app, reader, job_id)
