"""Group commit of the witness: one signed head and one fsync for the commits of several threads, and still no
commit returns before a head covering its own events is on disk (WITNESS, 21 CFR 11.10(e)).
"""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from edms.audit.models import AuditEvent
from edms.audit.witness import enable_witness
from tests.integration.test_audit_tamper import edms_verify
from tests.integration.test_audit_witness_fast import correct, heads, reference_root


def seq_of(sessions, number: int) -> int:
    with sessions() as session:
        return session.scalar(select(AuditEvent.seq).where(AuditEvent.object_id == f"DOC-{number:04d}"))


def event_count(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent))


class SlowSigner:
    """The system key, with the time a busy HSM takes: commits pile up while a head is being signed."""

    def __init__(self, signer) -> None:
        self.signer, self.signed = signer, 0
        self.gate, self.waiting = threading.Event(), threading.Event()

    def sign(self, data: bytes) -> bytes:
        self.waiting.set()
        self.gate.wait()
        self.signed += 1
        return self.signer.sign(data)


@pytest.mark.req("WITNESS")
def test_commits_waiting_together_share_one_head_and_each_returns_only_once_its_events_are_witnessed(
        settings, sessions, organisation_pki):
    signer = SlowSigner(organisation_pki.system_signer())
    group = enable_witness(sessions, path=settings.witness_path, signer=lambda: signer)
    covered: dict[int, tuple[int, int]] = {}
    failures: list[BaseException] = []

    def commit(number: int) -> None:
        try:
            correct(sessions, number)
            # Back from the commit: the newest head on disk must already cover this commit's event.
            covered[number] = (seq_of(sessions, number), heads(settings)[-1].tree_size)
        except BaseException as error:  # noqa: BLE001 (reported below)
            failures.append(error)

    threads = [threading.Thread(target=commit, args=(number,)) for number in range(1, 9)]
    # The first commit leads and waits for the key with its head of one event; only then do the seven others
    # commit and wait behind it (started together, the leader could read a tree some of them had already grown).
    threads[0].start()
    assert signer.waiting.wait(30), "the first commit never asked for a signature"
    for thread in threads[1:]:
        thread.start()
    while event_count(sessions) < 8 and not failures:
        threading.Event().wait(0.01)
    signer.gate.set()
    for thread in threads:
        thread.join()

    assert failures == []
    written = heads(settings)
    assert written[-1].tree_size == 8
    assert [head.tree_size for head in written] == [1, 8], "one head for the first commit, one for the seven others"
    assert signer.signed == group.rounds == 2
    assert [head.root_hash for head in written] == [reference_root(sessions, head.tree_size) for head in written]
    assert [head.tree_size for head in written] == sorted({head.tree_size for head in written})
    assert len(covered) == 8 and all(witnessed >= seq for seq, witnessed in covered.values())
    result = edms_verify(settings)
    assert result.exit_code == 0, result.output
    assert "not witnessed" not in result.output


@pytest.mark.req("WITNESS")
def test_a_head_that_cannot_be_signed_fails_only_the_witness_and_the_next_commit_covers_the_events(
        settings, sessions, organisation_pki):
    real = organisation_pki.system_signer()
    broken = {"now": True}

    class Flaky:
        def sign(self, data: bytes) -> bytes:
            if broken["now"]:
                raise RuntimeError("the HSM is unreachable")
            return real.sign(data)

    enable_witness(sessions, path=settings.witness_path, signer=Flaky)
    correct(sessions, 1)
    assert not settings.witness_path.exists() or heads(settings) == []
    broken["now"] = False
    correct(sessions, 2)
    assert [head.tree_size for head in heads(settings)] == [2]
    result = edms_verify(settings)
    assert result.exit_code == 0, result.output
