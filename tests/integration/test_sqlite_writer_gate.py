"""The threads of one server take their turn at SQLite's write lock in order (edms.sqlite_gate): each writer
waits for the previous one's COMMIT or ROLLBACK instead of sleeping in SQLite's busy handler, and nothing about
what is written, nor when it is durable, changes (issue 15: inspector reads).
"""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from edms.application.unit_of_work import WRITER, StaleRead, writes_ahead
from edms.audit import AuditContext, record
from edms.audit.models import AuditEvent
from edms.db import transaction
from edms.sqlite_gate import gate_of

QA = AuditContext(user_id=None, user_name="Akiko Tanaka", client_addr="10.0.0.5")


@pytest.fixture
def services(app):
    found = app.extensions["edms"]
    if found.engine.dialect.name != "sqlite":
        pytest.skip("the write turn is SQLite's")
    return found


def event_count(services) -> int:
    """Read without the write lock (a writer of this test may hold it)."""
    with services.sessions(bind=services.reading_engine) as session:
        return session.scalar(select(func.count()).select_from(AuditEvent))


def test_a_write_transaction_that_fails_gives_the_turn_back_to_the_next_writer(services):
    with pytest.raises(ValueError), transaction(services.sessions) as session:
        record(session, QA, "document.updated", "document", "DOC-0001", reason="Correction")
        raise ValueError("the use case failed after writing")
    done = threading.Event()

    def next_writer() -> None:
        with transaction(services.sessions) as session:
            record(session, QA, "document.updated", "document", "DOC-0002", reason="Correction")
        done.set()

    thread = threading.Thread(target=next_writer)
    thread.start()
    thread.join(timeout=60)
    assert done.is_set()
    assert not gate_of(services.engine)._lock.locked()
    with services.sessions() as session:
        assert session.scalars(select(AuditEvent.object_id)).all()[-1:] == ["DOC-0002"]


def test_a_reads_upgrade_while_another_thread_writes_runs_again_and_writes_nothing(services):
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with transaction(services.sessions) as session:
            record(session, QA, "document.updated", "document", "DOC-0003", reason="Correction")
            holding.set()
            release.wait(timeout=60)

    thread = threading.Thread(target=writer)
    thread.start()
    assert holding.wait(timeout=60)
    before = event_count(services)
    session = services.sessions(bind=services.reading_engine)
    session.info[WRITER] = services.engine
    try:
        session.execute(select(AuditEvent.seq).limit(1)).all()  # the read's snapshot
        with pytest.raises(StaleRead):
            writes_ahead(session)
    finally:
        session.rollback()
        session.close()
        release.set()
        thread.join(timeout=60)
    assert event_count(services) == before + 1  # the writer's event alone
    assert not gate_of(services.engine)._lock.locked()


def test_writers_of_many_threads_all_commit_one_after_another_in_one_chain(services):
    failures: list[BaseException] = []

    def write(first: int) -> None:
        try:
            for number in range(first, first + 10):
                with transaction(services.sessions) as session:
                    record(session, QA, "document.updated", "document", f"DOC-{number:04d}", reason="Correction")
        except BaseException as error:  # noqa: BLE001 (reported below)
            failures.append(error)

    before = event_count(services)
    threads = [threading.Thread(target=write, args=(100 * n,)) for n in range(1, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with services.sessions() as session:
        rows = session.execute(select(AuditEvent.seq, AuditEvent.prev_hash, AuditEvent.hash)
                               .order_by(AuditEvent.seq)).all()
    assert len(rows) == before + 60
    assert [row.seq for row in rows] == list(range(1, len(rows) + 1))
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(rows, rows[1:], strict=False))
