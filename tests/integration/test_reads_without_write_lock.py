"""On SQLite a read does not queue behind the write lock, and a read that turns out to write takes the lock
before it writes, so the audit chain stays one line (issue 15: reads at the speed of the hardware).

A GET's unit of work begins DEFERRED (edms.db.reading): it reads its WAL snapshot while a writer holds the
lock. The first use case that writes takes the lock in the same transaction first
(edms.application.unit_of_work.writes_ahead): an inspector's access record is written so, in the request's
one transaction, committed before the response leaves, while the page itself was read without the lock.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import select

from edms.application.unit_of_work import WRITER, use_case, writes_ahead
from edms.audit import AuditContext, record
from edms.audit.models import AuditEvent
from edms.db import is_reading, reading
from tests.conftest import bearer, sign_in
from tests.support.inspection import INSPECTOR, events, inspector  # noqa: F401


@pytest.fixture
def sqlite_path(settings) -> str:
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("the write lock that reads avoid is SQLite's")
    return settings.database_url.removeprefix("sqlite:///")


@contextmanager
def write_lock_held(path: str) -> Iterator[sqlite3.Connection]:
    """Another process's writer, mid-transaction: it holds SQLite's write lock until it ends."""
    connection = sqlite3.connect(path, isolation_level=None, timeout=0)
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    finally:
        connection.execute("ROLLBACK")
        connection.close()


def write_lock_free(path: str) -> bool:
    connection = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return False
    else:
        connection.execute("ROLLBACK")
        return True
    finally:
        connection.close()


def test_an_api_read_is_answered_while_another_writer_holds_the_sqlite_write_lock(app, client, people, sqlite_path):
    people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    headers = bearer(client, "akiko.tanaka")
    with write_lock_held(sqlite_path):
        me = client.get("/api/v1/me", headers=headers)
        types = client.get("/api/v1/document-types", headers=headers)
    assert me.status_code == 200 and me.json["username"] == "akiko.tanaka"
    assert types.status_code == 200 and types.json["items"]


def test_a_page_is_answered_while_another_writer_holds_the_sqlite_write_lock(app, client, people, sqlite_path):
    people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    assert sign_in(client, "akiko.tanaka").status_code == 302
    with write_lock_held(sqlite_path):
        page = client.get("/documents/")
    assert page.status_code == 200
    assert "Akiko Tanaka" in page.get_data(as_text=True)


def test_a_read_only_unit_of_work_takes_the_write_lock_before_its_use_case_writes(app, sqlite_path):
    services = app.extensions["edms"]
    session = services.sessions(bind=reading(services.engine))
    session.info[WRITER] = services.engine
    try:
        before = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
        began = session.get_transaction()
        assert write_lock_free(sqlite_path), "a read holds no write lock"
        with use_case(session):
            event = record(session, AuditContext.system("test"), "user.password_changed", "user", 1)
        assert is_reading(session.bind) and session.get_transaction() is began, "the read's own transaction wrote"
        assert not write_lock_free(sqlite_path), "the use case wrote under the write lock"
        session.commit()
    finally:
        session.close()
    assert event.seq == (before or 0) + 1
    assert write_lock_free(sqlite_path)


def test_writes_ahead_leaves_a_writing_unit_of_work_as_it_is(app):
    services = app.extensions["edms"]
    with services.sessions() as session:
        session.info[WRITER] = services.engine
        writes_ahead(session)
        assert session.bind is services.engine


def test_an_inspectors_api_read_is_recorded_while_reads_stay_lock_free(app, client, inspector, sqlite_path):  # noqa: F811
    headers = bearer(client, INSPECTOR[0])
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    recorded = events(app, "inspection.viewed", actor_id=inspector.id)
    assert [json.loads(event.changes or "{}")["endpoint"]["new"] for event in recorded] == ["api.me"]
    assert write_lock_free(sqlite_path), "the request's transaction ended with the response"
