"""The audit log's newest events are provable against a witness outside the database (WITNESS, 21 CFR 11.10(e)).

The attacker has full database access (triggers dropped, as in test_audit_tamper) but not the witness file
nor the system key. Every commit that appends events appends a signed tree head to the witness.
"""
from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, update

from edms.audit import AuditContext, record
from edms.audit.chain import event_hash
from edms.audit.checkpoints import create_checkpoint_now
from edms.audit.models import AuditCheckpoint, AuditEvent
from edms.audit.witness import TreeHead, enable_witness
from edms.db import make_engine, make_session_factory, transaction
from tests.integration.test_audit_tamper import EVENTS, attacker, edms_verify, event_row, first_broken_item

CHECKPOINTS = AuditCheckpoint.__table__
QA = AuditContext(user_id=2, user_name="Akiko Tanaka", client_addr="10.0.0.5")


def append(sessions, number):
    with transaction(sessions) as session:
        record(session, QA, "document.updated", "document", f"DOC-{number:04d}",
               changes={"title": {"old": f"Draft {number}", "new": f"Batch record {number}"}}, reason=f"Correction {number}")


@pytest.fixture
def witnessed(settings, sessions, organisation_pki):
    """17 events, each commit witnessed; checkpoint #1 signs seq 5 (event 6), #2 signs seq 12 (event 13)."""
    signer = organisation_pki.system_signer()
    enable_witness(sessions, path=settings.witness_path, signer=lambda: signer)
    for number in range(1, 6):
        append(sessions, number)
    create_checkpoint_now(sessions, AuditContext.system("test"), signer)
    for number in range(7, 13):
        append(sessions, number)
    create_checkpoint_now(sessions, AuditContext.system("test"), signer)
    for number in range(14, 18):
        append(sessions, number)
    return signer


def heads(settings):
    return [TreeHead.from_line(line) for line in settings.witness_path.read_bytes().splitlines()]


def warnings(result):
    return [line for line in result.output.splitlines() if line.startswith("WARN: ")]


@pytest.mark.req("WITNESS")
@pytest.mark.req("11.10(e)")
def test_every_commit_appends_a_signed_tree_head_and_the_trail_verifies(settings, witnessed):
    witnessed_heads = heads(settings)
    assert [head.tree_size for head in witnessed_heads] == list(range(1, 18))
    line = json.loads(settings.witness_path.read_bytes().splitlines()[-1])
    assert set(line) == {"type", "version", "tree_size", "root_hash", "timestamp", "signature", "frontier"}
    result = edms_verify(settings)
    assert result.exit_code == 0, result.output
    assert warnings(result) == []
    # Verifying records an event: the next commit witnesses it too.
    assert heads(settings)[-1].tree_size == 18


@pytest.mark.req("WITNESS")
@pytest.mark.req("11.10(e)")
def test_deleting_the_newest_event_is_a_failure(settings, witnessed):
    with attacker(settings) as connection:
        connection.execute(delete(EVENTS).where(EVENTS.c.seq == 17))
    result = edms_verify(settings)
    assert result.exit_code == 1, result.output
    assert "witnessed events were removed" in result.output
    assert "holds a signed tree of 17 events but the database holds 16" in result.output


@pytest.mark.req("WITNESS")
@pytest.mark.req("ERES-authenticity")
def test_rewriting_and_rehashing_the_newest_events_is_a_failure(settings, witnessed):
    with attacker(settings) as connection:
        previous = event_row(connection, 14).hash
        for seq in range(15, 18):
            row = event_row(connection, seq)._asdict()
            row["prev_hash"] = previous
            row["reason"] = "a better-sounding reason"
            fields = AuditEvent(**{key: value for key, value in row.items() if key != "hash"}).hashed_fields()
            previous = event_hash(fields)
            connection.execute(update(EVENTS).where(EVENTS.c.seq == seq).values(
                prev_hash=row["prev_hash"], reason=row["reason"], hash=previous))
    result = edms_verify(settings)
    assert result.exit_code == 1, result.output
    # The chain itself is intact and no checkpoint covers these events: only the witness sees it.
    assert first_broken_item(result).startswith(
        "first broken item: audit_event seq 1–15: the database's events give another tree than the one the witness "
        "signed at size 15")


@pytest.mark.req("WITNESS")
@pytest.mark.req("11.10(e)")
def test_deleting_the_newest_checkpoint_with_the_events_after_the_one_before_it_is_a_failure(settings, witnessed):
    with attacker(settings) as connection:
        connection.execute(delete(CHECKPOINTS).where(CHECKPOINTS.c.number == 2))
        connection.execute(delete(EVENTS).where(EVENTS.c.seq > 6))
    result = edms_verify(settings)
    assert result.exit_code == 1, result.output
    assert "holds a signed tree of 7 events but the database holds 6" in result.output


@pytest.mark.req("WITNESS")
def test_a_crash_between_commit_and_witness_is_a_warning_with_the_count(settings, witnessed):
    # Three commits whose witness never ran (the process died right after each commit).
    engine = make_engine(settings.database_url)
    unwitnessed = make_session_factory(engine)
    for number in range(18, 21):
        append(unwitnessed, number)
    engine.dispose()
    result = edms_verify(settings)
    assert result.exit_code == 0, result.output
    assert warnings(result) == [
        "WARN: audit_event seq 18–20: 3 event(s) after the newest witnessed tree head (size 17) are not witnessed "
        "yet (a crash between a commit and its witness, or the witness was unreachable)"]


@pytest.mark.req("WITNESS")
def test_the_next_witnessed_commit_covers_the_unwitnessed_events(settings, sessions, witnessed):
    engine = make_engine(settings.database_url)
    append(make_session_factory(engine), 18)
    engine.dispose()
    append(sessions, 19)
    assert heads(settings)[-1].tree_size == 19
    result = edms_verify(settings)
    assert result.exit_code == 0 and warnings(result) == [], result.output


@pytest.mark.req("WITNESS")
def test_a_forged_tree_head_in_the_witness_is_a_failure(settings, witnessed):
    lines = settings.witness_path.read_bytes().splitlines()
    forged = json.loads(lines[-1])
    forged["root_hash"] = "00" * 32
    settings.witness_path.write_bytes(b"\n".join([*lines, json.dumps(forged).encode()]) + b"\n")
    result = edms_verify(settings)
    assert result.exit_code == 1, result.output
    assert f"audit_witness line {len(lines) + 1}: system signature of the tree head invalid" in result.output


@pytest.mark.req("WITNESS")
def test_a_malformed_witness_line_is_reported_and_the_rest_still_checked(settings, witnessed):
    with settings.witness_path.open("ab") as handle:
        handle.write(b"{not json\n")
    with attacker(settings) as connection:
        connection.execute(delete(EVENTS).where(EVENTS.c.seq == 17))
    result = edms_verify(settings)
    assert result.exit_code == 1, result.output
    assert "audit_witness line 18: not a tree head edms wrote" in result.output
    assert "witnessed events were removed" in result.output


def test_no_witness_file_warns_for_every_event(settings, sessions):
    for number in range(1, 4):
        append(sessions, number)
    result = edms_verify(settings)
    assert result.exit_code == 0, result.output
    assert any("3 event(s) after the newest witnessed tree head (size 0)" in line for line in warnings(result))


@pytest.mark.req("WITNESS")
def test_the_verification_page_shows_the_unwitnessed_events_as_a_warning(app, admin_client, settings):
    # The app witnesses its own commits; three events committed outside it are not witnessed.
    engine = make_engine(settings.database_url)
    unwitnessed = make_session_factory(engine)
    for number in range(1, 4):
        append(unwitnessed, number)
    engine.dispose()
    html = admin_client.get("/audit/verify?run=1").get_data(as_text=True)
    assert "Audit trail verified: no problem found." in html
    assert 'id="warnings"' in html and "are not witnessed yet" in html
