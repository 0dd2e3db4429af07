"""Inspectors' reads waiting for the write turn at the same time share one transaction, one COMMIT and one witness
head (edms.application.write_turn), and each is answered only after both (issue 15; 21 CFR 11.10(e), WITNESS).

Each read and its access record stay in one transaction: the transaction is handed, still open, from one read to
the next (each in its own SAVEPOINT), and committed once by the last. A read that fails inside the group loses only
its own SAVEPOINT; a COMMIT that fails fails every read of the group.
"""
from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

import pytest
from flask import request
from sqlalchemy import event, func, select

from edms.application import write_turn
from edms.audit.models import AuditCheckpoint, AuditEvent
from edms.web import runtime
from tests.conftest import bearer
from tests.integration.test_audit_tamper import edms_verify
from tests.integration.test_audit_witness_fast import heads
from tests.integration.test_inspector_read_one_transaction import transactions_of
from tests.support.audit_chain import reads_beside_writers, verified_and_witnessed
from tests.support.inspection import INSPECTOR, events, inspector, inspector_client  # noqa: F401

READERS = 5
LEADER = "X-Bench-Leader"  # the request that takes the turn first and holds it until the others wait behind it
FAILS = "X-Fails"  # a request whose own SAVEPOINT cannot be released


def seq_max(app) -> int:
    with app.extensions["edms"].sessions() as session:
        return session.scalar(select(func.coalesce(func.max(AuditEvent.seq), 0)))


class Group:
    """`READERS` inspector reads of GET /api/v1/me that wait for the write turn together: the leader takes it and
    keeps it until the others are queued behind it, so they form one group."""

    def __init__(self, app) -> None:
        self.app = app
        self.log: list[str] = []  # "commit" (the database's) and "answered" (a response back), in order
        self.seen: list[tuple[int, int]] = []  # per answer: (status, the newest witnessed tree size then)
        self.holding = threading.Event()
        self.failures: list[BaseException] = []

        @app.before_request
        def _lead_until_the_others_wait():
            if request.path != "/api/v1/me" or not request.headers.get(LEADER):
                return
            runtime.db()  # takes the turn (its credential reads with a record: edms.web.runtime)
            self.holding.set()
            turn = runtime.write_turn()
            for _ in range(3000):
                if turn.waiting() >= READERS - 1:
                    return
                threading.Event().wait(0.01)
            raise AssertionError("the other reads never queued behind the leader")

        event.listen(app.extensions["edms"].engine, "commit", lambda _connection: self.log.append("commit"))

    def read(self, headers: dict[str, str], extra: dict[str, str] | None = None) -> None:
        client = self.app.test_client()
        try:
            response = client.get("/api/v1/me", headers={**headers, **(extra or {})})
            witnessed = heads(self.app.extensions["edms"].settings)[-1].tree_size
            self.seen.append((response.status_code, witnessed))
            self.log.append("answered")
            if response.status_code != 200:
                assert INSPECTOR[0] not in response.get_data(as_text=True), "a failed read served its content"
        except BaseException as error:  # noqa: BLE001 (reported by the test)
            self.failures.append(error)

    def run(self, headers: dict[str, str], follower: Callable[[int], dict[str, str]] = lambda _n: {}) -> None:
        self.log.clear()
        leader = threading.Thread(target=self.read, args=(headers, {LEADER: "1"}))
        leader.start()
        assert self.holding.wait(30), "the leader never took the write turn"
        others = [threading.Thread(target=self.read, args=(headers, follower(n))) for n in range(1, READERS)]
        for thread in others:
            thread.start()
        for thread in [leader, *others]:
            thread.join()
        assert self.failures == []


def warmed(app, client) -> dict[str, str]:
    """An inspector's token whose reads are known to write: its next reads take the write turn at once."""
    headers = bearer(client, INSPECTOR[0])
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    return headers


@pytest.mark.req("11.10(e)")
@pytest.mark.req("WITNESS")
def test_inspector_reads_waiting_together_share_one_commit_and_one_head_and_are_answered_after_both(
        app, organisation_pki, client, inspector):  # noqa: F811
    group = Group(app)
    headers = warmed(app, client)
    settings = app.extensions["edms"].settings
    heads_before, records_before = len(heads(settings)), len(events(app, "inspection.viewed"))
    with app.app_context():
        turn = runtime.write_turn()
    commits_before, members_before = turn.commits, turn.members
    with transactions_of(app.extensions["edms"].engine) as seen:
        group.run(headers)

    assert seen.count("commit") == 1, seen
    assert (turn.commits - commits_before, turn.members - members_before) == (1, READERS)
    assert len(heads(settings)) == heads_before + 1, "one witness head for the whole group"
    assert len(events(app, "inspection.viewed", actor_id=inspector.id)) == records_before + READERS
    assert group.log == ["commit"] + ["answered"] * READERS, "no read answered before the group's COMMIT"
    newest = seq_max(app)
    assert [status for status, _ in group.seen] == [200] * READERS
    assert all(witnessed == newest for _, witnessed in group.seen), "each answered once its record is witnessed"
    assert edms_verify(settings).exit_code == 0


@pytest.mark.req("11.10(e)")
def test_a_read_that_fails_inside_a_group_leaves_no_record_and_the_others_records_commit(
        app, organisation_pki, client, inspector):  # noqa: F811
    group = Group(app)
    headers = warmed(app, client)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as served: an error is answered 500

    def refuse(_session):
        if request.headers.get(FAILS):
            raise RuntimeError("this read's savepoint cannot be released")

    sessions = app.extensions["edms"].sessions
    before = len(events(app, "inspection.viewed", actor_id=inspector.id))
    event.listen(sessions, "before_commit", refuse)
    try:
        group.run(headers, follower=lambda n: {FAILS: "1"} if n == 2 else {})
    finally:
        event.remove(sessions, "before_commit", refuse)

    assert sorted(status for status, _ in group.seen) == [200] * (READERS - 1) + [500]
    assert group.log.count("commit") == 1
    assert len(events(app, "inspection.viewed", actor_id=inspector.id)) == before + READERS - 1
    assert edms_verify(app.extensions["edms"].settings).exit_code == 0


@pytest.mark.req("11.10(e)")
def test_a_shared_commit_that_fails_fails_every_read_of_the_group_and_records_nothing(
        app, organisation_pki, client, inspector):  # noqa: F811
    group = Group(app)
    headers = warmed(app, client)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    before = len(events(app, "inspection.viewed", actor_id=inspector.id))
    engine = app.extensions["edms"].engine

    def disk_full(_connection):
        raise RuntimeError("the disk is full")

    event.listen(engine, "commit", disk_full)
    try:
        group.run(headers)
    finally:
        event.remove(engine, "commit", disk_full)

    assert [status for status, _ in group.seen] == [500] * READERS
    assert len(events(app, "inspection.viewed", actor_id=inspector.id)) == before
    assert client.get("/api/v1/me", headers=headers).status_code == 200, "the write turn is free again"
    assert edms_verify(app.extensions["edms"].settings).exit_code == 0


@pytest.mark.req("11.10(e)")
@pytest.mark.req("WITNESS")
def test_groups_of_inspector_reads_and_concurrent_writers_keep_the_chain_one_line(
        app, organisation_pki, client, inspector):  # noqa: F811
    headers = warmed(app, client)
    with app.app_context():
        turn = runtime.write_turn()
    statuses = reads_beside_writers(app, headers, readers=6, reads=10, writes=8)

    assert statuses == [200] * 60
    assert turn.members == 60 and 1 <= turn.commits <= 60
    assert len(events(app, "inspection.viewed", actor_id=inspector.id)) == 61
    assert len(events(app, "document.updated")) == 16
    verified_and_witnessed(app.extensions["edms"].settings)


@pytest.mark.req("11.10(e)")
def test_a_checkpoint_crossed_inside_a_group_is_signed_once_after_its_commit(
        settings, organisation_pki, inspector):  # noqa: F811
    from edms.app import create_app

    app = create_app(dataclasses.replace(settings, audit_checkpoint_every=3))
    try:
        group = Group(app)
        headers = warmed(app, app.test_client())
        before = checkpoints(app)
        group.run(headers)
        assert group.log.count("commit") >= 1 and [status for status, _ in group.seen] == [200] * READERS
        last = max(event.seq for event in events(app, "inspection.viewed", actor_id=inspector.id))
        # Five records cross the interval of three at least once: ONE checkpoint, of the head the COMMIT made.
        assert checkpoints(app)[len(before):] == [(len(before) + 1, last)]
        result = edms_verify(app.extensions["edms"].settings)
        assert result.exit_code == 0, result.output
    finally:
        app.extensions["edms"].engine.dispose()


def checkpoints(app) -> list[tuple[int, int]]:
    with app.extensions["edms"].sessions() as session:
        return [tuple(row) for row in session.execute(  # type: ignore[misc]
            select(AuditCheckpoint.number, AuditCheckpoint.seq).order_by(AuditCheckpoint.number))]


@pytest.mark.req("11.10(e)")
def test_a_signed_in_inspectors_next_pages_take_the_write_turn_and_a_qa_users_reads_never_do(
        app, organisation_pki, inspector_client, inspector, people):  # noqa: F811
    with app.app_context():
        turn = runtime.write_turn()
    assert inspector_client.get("/inspection/search").status_code == 200  # read first, then recorded
    assert turn.members == 0
    for _ in range(2):
        assert inspector_client.get("/inspection/search").status_code == 200
    assert (turn.members, turn.commits) == (2, 2)
    assert len(events(app, "inspection.viewed", actor_id=inspector.id)) == 3

    people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    qa = app.test_client()
    headers = bearer(qa, "akiko.tanaka")
    for _ in range(2):
        assert qa.get("/api/v1/me", headers=headers).status_code == 200
    assert turn.members == 2, "an ordinary user's reads keep their path"


@pytest.mark.req("11.10(e)")
def test_a_group_holds_at_most_its_bound_of_reads_and_the_next_waiter_opens_the_next_transaction(
        app, organisation_pki, client, inspector, monkeypatch):  # noqa: F811
    monkeypatch.setattr(write_turn, "MOST", 2)  # five reads queued together: groups of 2, 2 and 1
    group = Group(app)
    headers = warmed(app, client)
    settings = app.extensions["edms"].settings
    heads_before = len(heads(settings))
    group.run(headers)
    assert [status for status, _ in group.seen] == [200] * READERS
    assert group.log.count("commit") == 3
    # At most one head a COMMIT: the witness's own group commit may fold the heads of groups that committed
    # while the previous head was being written into one (CI saw 2 heads for the 3 commits).
    assert heads_before < len(heads(settings)) <= heads_before + 3
    assert edms_verify(settings).exit_code == 0
