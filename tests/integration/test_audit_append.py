"""`append` (one Core INSERT, edms.audit.record) writes exactly the event `record` (the ORM) writes: the same columns,
the same hash, the same link, on both engines; the chain's head it keeps in a transaction is always the real head
(21 CFR 11.10(e), ALCOA+; issue 15: an inspector's access records)."""
from __future__ import annotations

import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from edms.application.integrity import check_integrity as verify
from edms.audit import AuditContext, record
from edms.audit.chain import canonical_bytes
from edms.audit.models import AuditEvent
from edms.audit.record import append, appended_rows
from edms.db import make_engine, transaction

WHO = AuditContext(user_id=7, user_name="Jōhn Carter «inspector»", client_addr="10.0.0.9", request_id="req-1")
INPUTS = [
    dict(action="inspection.viewed", object_type="document", object_id=12, document_version=3, case_id=4,
         changes={"path": {"old": None, "new": "/documents/12?x=ä&y=\u2028"}, "endpoint": {"old": None, "new": "x"}}),
    dict(action="inspection.downloaded", object_type="signature", object_id="s-9",
         changes={"file": {"old": None, "new": {"name": "報告書.pdf", "size": 10, "sha256": "ab" * 32}}}),
    dict(action="inspection.viewed", object_type="page", object_id=None),
    dict(action="test.reasoned", object_type="case", object_id="C-1", reason="a reason\nover two lines", changes={}),
]
NOW = datetime(2026, 12, 7, 18, 30, 1, 123456, tzinfo=UTC)


def stored(session, seq: int) -> tuple:
    """The row as the database keeps it (no ORM type processing)."""
    return tuple(session.execute(text("SELECT * FROM audit_event WHERE seq = :seq"), {"seq": seq}).one())


@pytest.mark.req("11.10(e)")
@pytest.mark.parametrize("given", INPUTS, ids=[given["action"] + ":" + given["object_type"] for given in INPUTS])
def test_append_stores_byte_for_byte_the_event_record_stores_for_the_same_inputs(sessions, monkeypatch, given):
    monkeypatch.setattr(sys.modules["edms.audit.record"], "utc_now", lambda: NOW)  # the module (`record` is its function)
    with transaction(sessions) as session:
        record(session, WHO, "test.before", "test")  # a head to link to
    session = sessions()
    try:
        by_orm = record(session, WHO, **given)
        expected = stored(session, by_orm.seq)
        session.rollback()
        seq = append(session, WHO, **given)
        assert seq == by_orm.seq
        assert stored(session, seq) == expected
        assert appended_rows(session) == {seq: canonical_bytes(by_orm.hashed_fields())}, "the witness's leaf"
        session.commit()
    finally:
        session.close()


@pytest.mark.req("11.10(e)")
def test_appends_and_records_interleaved_in_one_transaction_and_its_savepoints_keep_one_chain(settings, sessions):
    with transaction(sessions) as session:
        first = append(session, WHO, "test.first", "test")  # the head read (an empty log: genesis)
        second = append(session, WHO, "test.second", "test")  # the head kept
        third = record(session, WHO, "test.third", "test").seq  # the ORM reads the head: the appended one
        fourth = append(session, WHO, "test.fourth", "test")  # the ORM's event is the head kept
        savepoint = session.begin_nested()
        append(session, WHO, "test.undone", "test")
        savepoint.rollback()  # the head read again: the event undone is not linked to
        fifth = append(session, WHO, "test.fifth", "test")
        assert sorted(appended_rows(session)) == [first, second, fourth, fifth], "only the undone leaf is forgotten"
    assert [first, second, third, fourth, fifth] == [1, 2, 3, 4, 5]
    with transaction(sessions) as session:
        assert session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all() == [
            "test.first", "test.second", "test.third", "test.fourth", "test.fifth"]
    report = verify(make_engine(settings.database_url), only=["audit_chain"])
    assert report.ok and report.chain_head[0] == 5, report


@pytest.mark.req("11.10(e)")
def test_a_head_kept_by_an_ended_transaction_is_never_used_by_the_next(settings, sessions):
    session = sessions()
    try:
        append(session, WHO, "test.kept", "test")
        session.commit()
        with transaction(sessions) as other:  # another unit of work appends meanwhile
            record(other, WHO, "test.other", "test")
        assert append(session, WHO, "test.after", "test") == 3
        session.rollback()
        assert append(session, WHO, "test.again", "test") == 3
        session.commit()
    finally:
        session.close()
    report = verify(make_engine(settings.database_url), only=["audit_chain"])
    assert report.ok and report.chain_head[0] == 3, report
