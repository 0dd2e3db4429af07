"""`edms verify` checks the audit chain alongside the other checks (issue #15: the chain hashes on one core while
the signature workers judge on the others), on a second connection in the same snapshot. Its report is the one
the checks make one after another: on the signed case untouched, and with an audit event and two signatures
tampered with at once."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from edms.application.integrity import check_integrity
from edms.audit import AuditContext, record
from edms.audit.models import AuditEvent
from edms.audit.snapshots import shared_snapshots
from edms.db import transaction
from edms.pki import trust_anchors
from tests.integration.test_signatures_verification import attacker
from tests.integration.test_verdict_parity import change_manifest_byte, find_target, flip_cms_bit


def full_report(services, trust, *, alongside: bool) -> dict:
    """Every check, as `edms verify` runs them (workers judging the signatures), its times left out."""
    report = check_integrity(services.engine, trust=trust, data_dir=services.settings.data_dir, blobs=services.blobs,
                             witness_file=services.settings.witness_path, regimes=services.regimes,
                             document_types=services.document_types, signature_workers=2,
                             signature_pool_threshold=0, batch_size=3, chain_alongside=alongside)
    result = report.to_dict()
    del result["started_at"], result["finished_at"]
    return result


@pytest.mark.req("11.10(a)", "11.10(e)")
def test_the_chain_checked_alongside_gives_the_report_of_the_checks_one_after_another(app, signed_case, settings):
    services = app.extensions["edms"]
    trust = trust_anchors(settings)
    in_turn = full_report(services, trust, alongside=False)
    assert in_turn["problem_count"] == 0, in_turn["problems"]
    assert full_report(services, trust, alongside=True) == in_turn

    flip_cms_bit(settings, find_target(services, signed_case.documents[0]))
    change_manifest_byte(settings, find_target(services, signed_case.documents[1]))
    with attacker(settings, "audit_event") as connection:
        connection.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(reason="changed afterwards"))
    tampered = full_report(services, trust, alongside=False)
    assert {problem["check"] for problem in tampered["problems"]} >= {"audit_chain", "signatures"}
    assert full_report(services, trust, alongside=True) == tampered


def test_connections_in_a_shared_snapshot_see_the_same_state_while_a_writer_commits(app, settings):
    services = app.extensions["edms"]
    count = select(func.count()).select_from(AuditEvent)
    with services.sessions() as session:
        before = session.scalar(count)
    with shared_snapshots(services.engine, 2) as connections:
        assert connections is not None
        with transaction(services.sessions) as session:  # committed after the snapshot was taken
            record(session, AuditContext.system("test"), "document.viewed", "document", "DOC-0001")
        assert [connection.scalar(count) for connection in connections] == [before, before]
    with services.sessions() as session:
        assert session.scalar(count) == before + 1
