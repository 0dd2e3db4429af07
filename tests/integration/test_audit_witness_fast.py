"""A tree head computed from the events a commit has just written is the head the database gives (WITNESS).

After a commit the witness extends the newest head with the committing unit of work's own events, without
reading the log again, when they follow that head with no gap; otherwise it reads the log. Either way every
head must be the one recomputed from the database's events, and `edms verify` must pass.
"""
from __future__ import annotations

import pytest

from edms.audit import AuditContext, record
from edms.audit.record import append
from edms.audit.witness import TreeHead, enable_witness, leaves_after
from edms.db import transaction
from edms.verifier.merkle import Frontier
from tests.integration.test_audit_tamper import edms_verify

QA = AuditContext(user_id=2, user_name="Akiko Tanaka", client_addr="10.0.0.5")


def heads(settings):
    """The heads written so far: a line still being appended by another thread (no newline yet) is not one."""
    written = settings.witness_path.read_bytes()
    return [TreeHead.from_line(line) for line in written[:written.rfind(b"\n") + 1].splitlines()]


def reference_root(sessions, size):
    with sessions() as session:
        tree = Frontier()
        tree.extend(leaves_after(session, 0)[:size])
        return tree.root().hex()


def correct(sessions, number, *, events=1):
    with transaction(sessions) as session:
        for part in range(events):
            record(session, QA, "document.updated", "document", f"DOC-{number:04d}",
                   changes={"title": {"old": f"草案 {number}", "new": f"Batch record {number}.{part}"}},
                   reason=f"Correction {number}\nsecond line")


@pytest.fixture
def witness(settings, sessions, organisation_pki):
    signer = organisation_pki.system_signer()
    enable_witness(sessions, path=settings.witness_path, signer=lambda: signer)
    return signer


@pytest.mark.req("WITNESS")
def test_heads_made_from_the_committed_events_equal_the_heads_the_database_gives(settings, sessions, witness):
    correct(sessions, 1)
    correct(sessions, 2, events=3)
    correct(sessions, 3)
    written = heads(settings)
    assert [head.tree_size for head in written] == [1, 4, 5]
    assert [head.root_hash for head in written] == [reference_root(sessions, head.tree_size) for head in written]
    result = edms_verify(settings)
    assert result.exit_code == 0, result.output


@pytest.mark.req("WITNESS")
def test_a_head_missed_before_is_caught_up_from_the_database(settings, sessions, witness):
    correct(sessions, 1)
    settings.witness_path.write_bytes(b"")  # as if the witness was unreachable for the commits so far
    correct(sessions, 2)
    correct(sessions, 3)
    written = heads(settings)
    assert [head.tree_size for head in written] == [2, 3]
    assert [head.root_hash for head in written] == [reference_root(sessions, head.tree_size) for head in written]


@pytest.mark.req("WITNESS")
def test_an_event_rolled_back_with_its_savepoint_is_never_witnessed(settings, sessions, witness):
    correct(sessions, 1)
    with transaction(sessions) as session:
        savepoint = session.begin_nested()
        record(session, QA, "document.updated", "document", "DOC-0002", reason="undone")
        savepoint.rollback()
        record(session, QA, "document.updated", "document", "DOC-0003", reason="kept")
    written = heads(settings)
    assert written[-1].tree_size == 2
    assert written[-1].root_hash == reference_root(sessions, 2)
    result = edms_verify(settings)
    assert result.exit_code == 0, result.output


@pytest.mark.req("WITNESS")
@pytest.mark.parametrize("write", [record, append], ids=["orm", "core"])
def test_events_written_before_a_savepoint_that_rolls_back_are_witnessed_by_their_own_commit(
        settings, sessions, witness, write):
    correct(sessions, 1)
    with transaction(sessions) as session:
        write(session, QA, "document.updated", "document", "DOC-0002", reason="kept, before the savepoint")
        savepoint = session.begin_nested()
        write(session, QA, "document.updated", "document", "DOC-0003", reason="undone")
        savepoint.rollback()
    written = heads(settings)
    assert written[-1].tree_size == 2, "the commit's head covers the event kept before the rolled-back savepoint"
    assert written[-1].root_hash == reference_root(sessions, 2)
    result = edms_verify(settings)
    assert result.exit_code == 0 and "unwitnessed" not in result.output, result.output
