"""Tampering with the audit trail is detected by `edms verify` and named precisely (21 CFR 11.10(a),(e); ER/ES).

The attacker here has full database access: triggers are dropped (SQLite) or bypassed with
session_replication_role = replica (PostgreSQL, the test server runs as superuser), exactly as someone with
the database password could. Only the keys in the data directory are out of reach.
"""
from __future__ import annotations

import hashlib
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from edms.audit import AuditContext, record
from edms.audit.chain import event_hash
from edms.audit.checkpoints import create_checkpoint_now
from edms.audit.immutability import protect_statements, unprotect_statements
from edms.audit.models import AuditCheckpoint, AuditEvent
from edms.audit.reviews import record_review
from edms.db import make_engine, transaction
from tests.support.audit_chain import edms_verify

EVENTS = AuditEvent.__table__
CHECKPOINTS = AuditCheckpoint.__table__
PROTECTED = ("audit_event", "audit_checkpoint", "audit_review")
TAMPERED_SEQ = 4


@pytest.fixture
def trail(sessions, organisation_pki):
    """18 events with two checkpoints: #1 signs seq 5 (its event is seq 6), #2 signs seq 12 (event 13)."""
    signer = organisation_pki.system_signer()
    qa = AuditContext(user_id=2, user_name="Akiko Tanaka", client_addr="10.0.0.5")

    def append(number):
        with transaction(sessions) as session:
            record(session, qa, "document.updated", "document", f"DOC-{number:04d}",
                   changes={"title": {"old": f"Draft {number}", "new": f"Batch record {number} — 日本語"}},
                   reason=f"Correction {number} after QC review", document_version=number % 3 + 1,
                   case_id="OOS-2026-0007")

    for number in range(1, 6):
        append(number)
    create_checkpoint_now(sessions, AuditContext.system("test"), signer)
    for number in range(7, 13):
        append(number)
    create_checkpoint_now(sessions, AuditContext.system("test"), signer)
    for number in range(14, 19):
        append(number)
    return signer


@contextmanager
def attacker(settings):
    """A transaction that bypasses the append-only triggers."""
    engine = make_engine(settings.database_url)
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as connection:
        if sqlite:
            for table in PROTECTED:
                for statement in unprotect_statements("sqlite", table):
                    connection.exec_driver_sql(statement)
        else:
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        yield connection
        if sqlite:
            for table in PROTECTED:
                for statement in protect_statements("sqlite", table):
                    connection.exec_driver_sql(statement)
    engine.dispose()


def first_broken_item(result) -> str:
    lines = [line for line in result.output.splitlines() if line.startswith("first broken item: ")]
    assert lines, result.output
    return lines[0]


def event_row(connection, seq):
    return connection.execute(select(EVENTS).where(EVENTS.c.seq == seq)).one()


@pytest.mark.req("11.10(e)")
@pytest.mark.req("11.10(a)")
def test_an_untouched_trail_verifies(settings, trail):
    result = edms_verify(settings)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("verified: ")
    assert "audit_checkpoint" in result.output


def _changed_value(column, original):
    if column == "seq":
        return original + 1000
    if column == "occurred_at":
        return original + timedelta(seconds=1)
    if column in ("actor_id", "document_version"):
        return original + 1
    if column in ("prev_hash", "hash"):
        return hashlib.sha256(original.encode()).hexdigest()
    if column == "changes":
        return '{"title":{"new":"Approved batch record","old":"Draft"}}'
    return original + " (altered)"


@pytest.mark.req("11.10(a)")
@pytest.mark.req("11.10(e)")
@pytest.mark.req("ERES-authenticity")
@pytest.mark.parametrize("column", [column.name for column in EVENTS.columns])
def test_changing_any_column_of_an_audit_event_is_detected_and_the_row_named(settings, trail, column):
    with attacker(settings) as connection:
        original = getattr(event_row(connection, TAMPERED_SEQ), column)
        connection.execute(update(EVENTS).where(EVENTS.c.seq == TAMPERED_SEQ).values({column: _changed_value(column, original)}))
    result = edms_verify(settings)
    assert result.exit_code == 1, result.output
    assert f"audit_event seq {TAMPERED_SEQ}:" in first_broken_item(result)


def _flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


CHECKPOINT_CHANGES = {
    "number": lambda value: value + 6,
    "seq": lambda value: value - 1,
    "head_hash": lambda value: hashlib.sha256(value.encode()).hexdigest(),
    "created_at": lambda value: value + timedelta(seconds=1),
    "signature": _flip_last_byte,  # the last bytes of the CMS are the ECDSA signature value
    "timestamp_token": _flip_last_byte,  # ... and of the token, the TSA's signature value
    "timestamped_at": lambda value: value - timedelta(seconds=1),
}


@pytest.mark.req("11.10(a)")
@pytest.mark.req("11.10(e)")
@pytest.mark.parametrize("column", [column.name for column in CHECKPOINTS.columns])
def test_changing_any_column_of_a_checkpoint_is_detected_and_the_checkpoint_named(settings, trail, column):
    assert column in CHECKPOINT_CHANGES, "every column of audit_checkpoint needs a tamper case"
    with attacker(settings) as connection:
        original = connection.execute(select(CHECKPOINTS.c[column]).where(CHECKPOINTS.c.number == 1)).scalar_one()
        connection.execute(update(CHECKPOINTS).where(CHECKPOINTS.c.number == 1)
                           .values({column: CHECKPOINT_CHANGES[column](original)}))
    result = edms_verify(settings)
    assert result.exit_code == 1, result.output
    assert first_broken_item(result).startswith("first broken item: audit_checkpoint #1: ")


@pytest.mark.req("11.10(e)")
@pytest.mark.req("ALCOA+")
def test_a_removed_event_is_detected_as_a_gap(settings, trail):
    with attacker(settings) as connection:
        connection.execute(delete(EVENTS).where(EVENTS.c.seq == 9))
    result = edms_verify(settings)
    assert result.exit_code == 1
    assert first_broken_item(result) == (
        "first broken item: audit_event seq 9: missing: seq 8 is followed by seq 10 (rows removed)")


@pytest.mark.req("11.10(e)")
def test_a_forged_event_inserted_with_a_correct_hash_is_detected_by_the_next_link(settings, trail):
    with attacker(settings) as connection:
        for seq in range(18, 8, -1):  # make room at seq 9, one row at a time as unique keys require
            connection.execute(update(EVENTS).where(EVENTS.c.seq == seq).values(seq=seq + 1))
        before = event_row(connection, 8)
        forged = {**before._asdict(), "seq": 9, "reason": "approved by phone", "prev_hash": before.hash}
        fields = AuditEvent(**{key: value for key, value in forged.items() if key != "hash"}).hashed_fields()
        connection.execute(EVENTS.insert().values({**forged, "hash": event_hash(fields)}))
    result = edms_verify(settings)
    assert result.exit_code == 1
    assert first_broken_item(result).startswith("first broken item: audit_event seq 10: previous-hash link broken")


@pytest.mark.req("11.10(e)")
def test_two_events_swapped_are_detected(settings, trail):
    with attacker(settings) as connection:
        first, second = event_row(connection, 8)._asdict(), event_row(connection, 9)._asdict()
        for seq, content in ((8, second), (9, first)):
            connection.execute(update(EVENTS).where(EVENTS.c.seq == seq).values(
                {key: value for key, value in content.items() if key not in ("seq", "hash")}))
        # The unique hash column is swapped in two steps.
        connection.execute(update(EVENTS).where(EVENTS.c.seq == 8).values(hash="swap"))
        connection.execute(update(EVENTS).where(EVENTS.c.seq == 9).values(hash=first["hash"]))
        connection.execute(update(EVENTS).where(EVENTS.c.seq == 8).values(hash=second["hash"]))
    result = edms_verify(settings)
    assert result.exit_code == 1
    assert first_broken_item(result).startswith("first broken item: audit_event seq 8: previous-hash link broken")


@pytest.mark.req("11.10(e)")
@pytest.mark.req("ERES-authenticity")
def test_a_truncated_tail_is_detected_through_the_signed_checkpoint(settings, trail):
    with attacker(settings) as connection:
        connection.execute(delete(EVENTS).where(EVENTS.c.seq > 10))
    result = edms_verify(settings)
    assert result.exit_code == 1
    assert first_broken_item(result) == ("first broken item: audit_checkpoint #2: the chain ends at seq 10 but this "
                                         "checkpoint signed seq 12 (tail truncated)")


@pytest.mark.req("11.10(e)")
@pytest.mark.req("ERES-authenticity")
def test_a_chain_rewritten_with_recomputed_hashes_is_detected_through_the_signed_checkpoint(settings, trail):
    with attacker(settings) as connection:
        previous = event_row(connection, 2).hash
        for seq in range(3, 19):
            row = event_row(connection, seq)._asdict()
            row["prev_hash"] = previous
            if seq == 3:
                row["reason"] = "a better-sounding reason"
            fields = AuditEvent(**{key: value for key, value in row.items() if key != "hash"}).hashed_fields()
            previous = event_hash(fields)
            connection.execute(update(EVENTS).where(EVENTS.c.seq == seq).values(
                prev_hash=row["prev_hash"], reason=row["reason"], hash=previous))
    result = edms_verify(settings)
    assert result.exit_code == 1
    assert first_broken_item(result) == ("first broken item: audit_event seq 5: does not match checkpoint #1: the chain "
                                         "up to here was rewritten after it was signed")


@pytest.mark.req("11.10(e)")
def test_a_removed_checkpoint_is_detected_through_its_audit_event(settings, trail):
    with attacker(settings) as connection:
        connection.execute(delete(CHECKPOINTS).where(CHECKPOINTS.c.number == 2))
    result = edms_verify(settings)
    assert result.exit_code == 1
    assert first_broken_item(result) == (
        "first broken item: audit_checkpoint #2: recorded in the audit trail at seq 13 but missing (removed)")


@pytest.mark.req("11.10(e)")
def test_checkpoints_cannot_be_checked_without_the_organisation_pki(settings, trail, organisation_pki):
    organisation_pki.directory.rename(organisation_pki.directory.with_name("pki-moved"))
    result = edms_verify(settings)
    assert result.exit_code == 1
    assert "the organisation PKI is not available" in first_broken_item(result)


@pytest.mark.req("11.10(e)")
@pytest.mark.req("11.10(c)")
@pytest.mark.parametrize("table", PROTECTED)
def test_update_and_delete_on_the_audit_tables_fail_on_both_engines(settings, sessions, trail, people, table):
    reviewer = people.make("akiko.tanaka", "qa")
    with transaction(sessions) as session:
        record_review(session, AuditContext(reviewer.id, reviewer.printed_name), from_seq=1, to_seq=18,
                      outcome="no_findings", findings="none")
    engine = make_engine(settings.database_url)
    column = {"audit_event": "reason", "audit_checkpoint": "head_hash", "audit_review": "findings"}[table]
    for statement in (f"UPDATE {table} SET {column} = 'x'", f"DELETE FROM {table}"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.exec_driver_sql(statement)
    if engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.exec_driver_sql(f"TRUNCATE {table}")
    engine.dispose()
