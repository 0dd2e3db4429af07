"""An inspector's read and its access record are one transaction (issue 15: "their access records written in
the request's one transaction"; 21 CFR 11.10(e)).

On PostgreSQL the request's unit of work is one transaction from its first read to its commit. On SQLite a GET
begins DEFERRED (it reads its WAL snapshot without the write lock); the access record's use case takes the write
lock in that same transaction (edms.application.unit_of_work.writes_ahead). SQLite refuses that upgrade when
another writer committed since the snapshot: then the whole request runs again from the start, the last run
taking the lock first (edms.web.runtime.dispatch_with_reruns), and only the run that succeeded is answered and
recorded.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import request
from sqlalchemy import event, select

from edms.application.unit_of_work import use_case
from edms.audit.models import AuditEvent
from edms.web.runtime import RUNS, db
from tests.conftest import bearer
from tests.support.audit_chain import another_writer_commits, edms_verify, reads_beside_writers, verified_and_witnessed
from tests.support.inspection import INSPECTOR, events, inspector  # noqa: F401


@contextmanager
def transactions_of(engine) -> Iterator[list[str]]:
    """Every BEGIN, COMMIT and ROLLBACK of a top-level transaction on `engine` (and the engines derived from it)."""
    seen: list[str] = []

    def on(name):
        return lambda *_args: seen.append(name)

    listeners = [("begin", on("begin")), ("commit", on("commit")), ("rollback", on("rollback"))]
    for name, listener in listeners:
        event.listen(engine, name, listener)
    try:
        yield seen
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)


def stale_on_runs(app, path: str, stale: set[int]) -> list[int]:
    """On the given runs of GET `path`, another writer commits after the request has begun reading its snapshot,
    so its own write cannot extend that snapshot. Returns the list of runs seen."""
    runs: list[int] = []

    @app.before_request
    def _commit_in_between():
        if request.path != path:
            return
        runs.append(len(runs) + 1)
        if runs[-1] in stale:
            db().execute(select(AuditEvent.seq).limit(1)).all()  # the snapshot begins with this read
            another_writer_commits(app, 100 + runs[-1])

    return runs


@pytest.mark.req("11.10(e)")
def test_an_inspectors_read_and_its_access_record_are_one_transaction(app, client, inspector):  # noqa: F811
    headers = bearer(client, INSPECTOR[0])
    with transactions_of(app.extensions["edms"].engine) as seen:
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert seen == ["begin", "commit"]
    (viewed,) = events(app, "inspection.viewed", actor_id=inspector.id)
    assert json.loads(viewed.changes)["endpoint"]["new"] == "api.me"


@pytest.mark.req("11.10(e)")
def test_a_read_whose_snapshot_another_writer_overtook_runs_again_and_is_recorded_once(app, client, inspector):  # noqa: F811
    if not app.extensions["edms"].engine.dialect.name == "sqlite":
        pytest.skip("PostgreSQL reads and records in one transaction under the chain's lock: nothing to run again")
    runs = stale_on_runs(app, "/api/v1/me", stale={1})
    headers = bearer(client, INSPECTOR[0])
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 200 and response.json["username"] == INSPECTOR[0]
    assert runs == [1, 2]
    assert len(events(app, "inspection.viewed", actor_id=inspector.id)) == 1
    assert [event.object_id for event in events(app, "document.updated")] == ["DOC-0101"]
    assert edms_verify(app.extensions["edms"].settings).exit_code == 0


@pytest.mark.req("11.10(e)")
def test_the_last_run_takes_the_write_lock_first_so_a_read_always_ends(app, client, inspector):  # noqa: F811
    if not app.extensions["edms"].engine.dialect.name == "sqlite":
        pytest.skip("the write lock taken late is SQLite's")
    runs = stale_on_runs(app, "/api/v1/me", stale=set(range(1, RUNS)))
    headers = bearer(client, INSPECTOR[0])
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert runs == list(range(1, RUNS + 1))
    assert len(events(app, "inspection.viewed", actor_id=inspector.id)) == 1
    assert len(events(app, "document.updated")) == RUNS - 1


@pytest.mark.req("11.10(e)")
def test_a_write_overtaken_in_a_before_request_hook_runs_the_request_again_too(app, client, inspector):  # noqa: F811
    """A hook's write (an idle session's time-out, a session's last-seen time) is refused the same way; the
    error page the application made of it is never answered."""
    if not app.extensions["edms"].engine.dialect.name == "sqlite":
        pytest.skip("the write lock taken late is SQLite's")
    runs: list[int] = []

    @app.before_request
    def _hook_that_writes():
        if request.path != "/api/v1/me":
            return
        runs.append(len(runs) + 1)
        if runs[-1] == 1:
            db().execute(select(AuditEvent.seq).limit(1)).all()
            another_writer_commits(app, 7)
        with use_case(db()):
            pass

    headers = bearer(client, INSPECTOR[0])
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 200 and response.json["username"] == INSPECTOR[0]
    assert runs == [1, 2]
    assert len(events(app, "inspection.viewed", actor_id=inspector.id)) == 1


@pytest.mark.req("11.10(e)")
def test_a_failed_commit_fails_the_response_and_records_nothing(app, client, inspector):  # noqa: F811
    headers = bearer(client, INSPECTOR[0])
    sessions = app.extensions["edms"].sessions

    def refuse(_session):
        raise RuntimeError("the disk is full")

    app.config["PROPAGATE_EXCEPTIONS"] = False  # as served: an error is answered 500, never raised to the server
    event.listen(sessions, "before_commit", refuse)
    try:
        response = client.get("/api/v1/me", headers=headers)
    finally:
        event.remove(sessions, "before_commit", refuse)
    assert response.status_code == 500
    assert INSPECTOR[0] not in response.get_data(as_text=True)
    assert events(app, "inspection.viewed", actor_id=inspector.id) == []


@pytest.mark.req("11.10(e)")
@pytest.mark.req("WITNESS")
def test_concurrent_inspector_reads_and_writers_keep_the_audit_chain_one_line(app, inspector, organisation_pki):  # noqa: F811
    headers = bearer(app.test_client(), INSPECTOR[0])
    statuses = reads_beside_writers(app, headers, readers=4, reads=12, writes=10)
    assert statuses == [200] * 48
    assert len(events(app, "inspection.viewed", actor_id=inspector.id)) == 48
    assert len(events(app, "document.updated")) == 20
    verified_and_witnessed(app.extensions["edms"].settings)
