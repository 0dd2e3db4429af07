"""The chain under load and failure: concurrent writers, rolled-back changes, automatic checkpoints (11.10(e), ALCOA+)."""
from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
import threading

import pytest
from sqlalchemy import select, text

from edms import __version__
from edms.application.integrity import check_integrity as verify
from edms.audit import AuditContext, record
from edms.audit.chain import event_hash
from edms.audit.checkpoints import enable_automatic_checkpoints
from edms.audit.integrity import _canonical_times, batch_hashes, chain_fields, chain_rows_sql
from edms.audit.models import AuditCheckpoint, AuditEvent
from edms.db import make_engine, make_session_factory, transaction
from edms.timeutil import utc_now
from edms.users.models import User
from edms.users.operations import create_user
from edms.users.profiles import Profile

THREADS, PER_THREAD, PROCESSES, PER_PROCESS = 8, 25, 2, 25

APPEND_SCRIPT = """
import sys
from edms import __version__
from edms.audit import AuditContext, record
from edms.audit.chain import event_hash
from edms.db import make_engine, make_session_factory, transaction
from edms.timeutil import utc_now

url, count, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
factory = make_session_factory(make_engine(url))
for number in range(count):
    with transaction(factory) as session:
        record(session, AuditContext.system(name), "test.appended", "test", f"{name}-{number}")
"""


def seqs(engine):
    with engine.connect() as connection:
        return connection.execute(text("SELECT seq FROM audit_event ORDER BY seq")).scalars().all()


@pytest.mark.req("11.10(e)")
@pytest.mark.req("ALCOA+")
def test_many_writers_at_once_in_threads_and_processes_leave_one_chain_without_gaps(database_url, settings, organisation_pki):
    engine = make_engine(database_url, pool_size=THREADS + 2)
    factory = make_session_factory(engine)
    signer = organisation_pki.system_signer()
    # Checkpoints are signed while the others keep appending.
    enable_automatic_checkpoints(factory, every=40, signer=lambda: signer)
    errors = []

    def writer(name):
        try:
            for number in range(PER_THREAD):
                with transaction(factory) as session:
                    record(session, AuditContext.system(name), "test.appended", "test", f"{name}-{number}")
        except Exception as exc:  # noqa: BLE001 (collected and asserted below)
            errors.append(exc)

    processes = [subprocess.Popen([sys.executable, "-c", APPEND_SCRIPT, database_url, str(PER_PROCESS), f"process-{n}"])
                 for n in range(PROCESSES)]
    threads = [threading.Thread(target=writer, args=(f"thread-{n}",)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [process.wait(timeout=300) for process in processes] == [0] * PROCESSES
    assert errors == []

    appended = THREADS * PER_THREAD + PROCESSES * PER_PROCESS
    with factory() as session:
        objects = session.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "test.appended")).all()
        checkpoints = session.scalars(select(AuditCheckpoint.number)).all()
    assert len(objects) == len(set(objects)) == appended
    assert checkpoints, "the interval was crossed: at least one checkpoint was signed"
    all_seqs = seqs(engine)
    assert all_seqs == list(range(1, len(all_seqs) + 1))
    report = verify(engine, trust=signer.trust)
    assert report.ok, report.first_problem
    assert report.counts["audit_event"] == len(all_seqs)
    engine.dispose()


@pytest.mark.req("11.10(e)")
@pytest.mark.req("ALCOA+")
def test_a_failed_transaction_leaves_neither_the_change_nor_its_event(settings, sessions):
    with pytest.raises(RuntimeError, match="disk full"), transaction(sessions) as session:
        create_user(session, AuditContext.system("test"), settings.password, username="emi.nakamura",
                    profile=Profile(printed_name="Emi Nakamura"), roles={"qa"}, password="Initial-Pass-2026!")
        assert session.scalar(select(AuditEvent.action).order_by(AuditEvent.seq.desc()).limit(1)) == "user.created"
        raise RuntimeError("disk full")
    with sessions() as session:
        assert session.scalar(select(User).where(User.username == "emi.nakamura")) is None
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "user.created")) is None
    with transaction(sessions) as session:
        record(session, AuditContext.system("test"), "test.next", "test")
    report = verify(make_engine(settings.database_url))
    assert report.ok and report.chain_head[0] == 1  # the rolled-back event left no gap


@pytest.mark.req("11.10(e)")
@pytest.mark.req("ERES-authenticity")
def test_the_app_signs_a_checkpoint_each_time_the_interval_is_crossed(settings, organisation_pki):
    from edms.app import create_app

    app = create_app(dataclasses.replace(settings, audit_checkpoint_every=5))
    factory = app.extensions["edms"].sessions
    for number in range(9):
        with transaction(factory) as session:
            record(session, AuditContext.system("test"), "test.appended", "test", number)
    with factory() as session:
        checkpoints = session.execute(select(AuditCheckpoint.number, AuditCheckpoint.seq)).all()
        events = session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
    # 1-5, checkpoint #1 signs 5 (its event is 6), 7-10, checkpoint #2 signs 10 (event 11).
    assert [tuple(row) for row in checkpoints] == [(1, 5), (2, 10)]
    assert events[5] == events[10] == "audit.checkpointed"
    report = verify(app.extensions["edms"].engine, trust=organisation_pki.trust_anchors())
    assert report.ok and report.counts["audit_checkpoint"] == 2
    app.extensions["edms"].engine.dispose()


@pytest.mark.req("11.10(e)")
def test_a_checkpoint_that_cannot_be_signed_never_undoes_the_committed_change(settings, caplog):
    from edms.app import create_app

    app = create_app(dataclasses.replace(settings, audit_checkpoint_every=2))  # no PKI in this data directory
    factory = app.extensions["edms"].sessions
    with caplog.at_level(logging.ERROR, logger="edms"):
        for number in range(3):
            with transaction(factory) as session:
                record(session, AuditContext.system("test"), "test.appended", "test", number)
    assert "automatic audit checkpoint failed" in caplog.text
    with factory() as session:
        assert session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) == 3
        assert session.scalar(select(AuditCheckpoint.number)) is None
    app.extensions["edms"].engine.dispose()


@pytest.mark.req("11.10(k)")
@pytest.mark.req("ALCOA+")
def test_every_event_carries_the_application_version_actor_and_server_time_inside_its_hash(sessions):
    before = utc_now()
    with transaction(sessions) as session:
        event = record(session, AuditContext(user_id=None, user_name="Kenji Sato", client_addr="10.0.0.9"),
                       "document.updated", "document", "DOC-0001", reason="Lot number added")
    after = utc_now()
    assert event.app_version == __version__ and event.actor_name == "Kenji Sato"
    assert before <= event.occurred_at <= after and event.occurred_at.tzinfo is not None
    fields = event.hashed_fields()
    assert fields["app_version"] == __version__ and event_hash(fields) == event.hash


@pytest.mark.req("11.10(a)")
def test_the_verifier_reads_each_event_exactly_as_the_application_hashed_it(settings, sessions):
    nasty = 'Ünïcödé 日本語 "quoted" \\ back\nslash\ttab \x01 \u2028 😀'
    with transaction(sessions) as session:
        for number in range(30):
            record(session, AuditContext(user_id=number or None, user_name=nasty, client_addr="::1"),
                   f"test.{number % 3}", "document", nasty if number % 2 else None,
                   changes={"field": {"old": nasty, "new": number}} if number % 5 else None,
                   reason=nasty if number % 4 else None, document_version=number if number % 3 else None,
                   case_id=number if number % 7 else None)
    engine = make_engine(settings.database_url)
    with engine.connect() as connection:
        rows = connection.execute(text(chain_rows_sql(engine.dialect.name)), {"after": 0, "limit": 100}).all()
    with sessions() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert [chain_fields(engine.dialect.name, row) for row in rows] == [event.hashed_fields() for event in events]
    assert batch_hashes(rows, _canonical_times(engine.dialect.name, rows)) == [event.hash for event in events]
    engine.dispose()


@pytest.mark.req("11.10(e)")
def test_an_interval_crossed_before_a_savepoint_that_rolls_back_is_still_checkpointed(database_url, organisation_pki):
    factory = make_session_factory(make_engine(database_url))
    signer = organisation_pki.system_signer()
    enable_automatic_checkpoints(factory, every=2, signer=lambda: signer)
    with transaction(factory) as session:
        record(session, AuditContext.system("test"), "test.first", "test")
    with transaction(factory) as session:
        record(session, AuditContext.system("test"), "test.crossing", "test")  # seq 2: the interval
        savepoint = session.begin_nested()
        record(session, AuditContext.system("test"), "test.undone", "test")
        savepoint.rollback()
    with factory() as session:
        checkpointed = session.execute(select(AuditCheckpoint.seq)).scalars().all()
    assert checkpointed == [2]
