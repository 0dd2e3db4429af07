"""`edms archive-timestamps` on the signed case: an RFC 4998 archive time-stamp per detached signature,
audited, append-only, idempotent; and the stored signatures validate in a simulated 2056 across a TSA
renewal and a root rollover given them, and fail without them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from edms.application import archiving, pki_lifecycle
from edms.application.services import build_services
from edms.application.unit_of_work import command
from edms.audit import AuditContext
from edms.audit.models import AuditEvent
from edms.pki.lifecycle import renew_tsa, rollover_root
from edms.pki.store import PkiStore
from edms.signatures.archive_models import ArchiveTimestamp
from edms.signatures.archive_queries import evidence_record
from edms.signatures.models import Signature
from edms.timeutil import utc_now
from edms.verifier.archive import verify_long_term
from edms.verifier.errors import Invalid

YEAR = timedelta(days=365)


@pytest.fixture
def services(settings, signed_case):
    services = build_services(settings)
    yield services
    services.engine.dispose()


def run(services, now=None) -> archiving.ArchiverReport:
    [report] = archiving.archive_timestamps(services, None, AuditContext.system("edms archive-timestamps (test)"),
                                            archiving.ArchivePolicy(now=now),
                                            archivers=(archiving.archive_detached_signatures,))
    return report


def stored(services):
    with command(services.sessions) as session:
        signatures = session.scalars(select(Signature).order_by(Signature.id)).all()
        session.expunge_all()
        records = {}
        for signature in signatures:
            records[signature.id] = evidence_record(session, signature.id)
        return signatures, records


@pytest.mark.req("LTV")
def test_the_first_run_gives_every_signature_an_audited_archive_timestamp_and_a_second_run_adds_none(services,
                                                                                                     signed_case):
    first = run(services)
    second = run(services)

    assert (first.added, first.problems) == (len(signed_case.signatures), [])
    assert (second.examined, second.added) == (0, 0)
    with command(services.sessions) as session:
        rows = session.scalars(select(ArchiveTimestamp)).all()
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "signature.archive_timestamped")).all()
        assert len(rows) == len(events) == len(signed_case.signatures)
        assert {row.seq for row in rows} == {1}
        change = json.loads(events[0].changes)["archive_timestamp"]
        assert change["old"] is None and change["new"]["seq"] == 1
        assert change["new"]["signature_id"] in signed_case.signatures
        assert events[0].actor_name and events[0].reason.startswith("first archive time-stamp")
        assert all(row.valid_until > utc_now() + 8 * YEAR for row in rows)


@pytest.mark.req("LTV")
def test_archive_timestamps_are_append_only(services):
    run(services)
    with services.engine.connect() as connection:
        for statement in ("UPDATE archive_timestamps SET reason = 'edited'", "DELETE FROM archive_timestamps"):
            with pytest.raises(DBAPIError, match="append-only"):
                with connection.begin():
                    connection.execute(text(statement))


@pytest.mark.req("LTV")
def test_every_stored_signature_validates_in_2056_across_a_tsa_renewal_and_a_root_rollover_and_fails_without(
        services, signed_case):
    store = PkiStore.for_settings(services.settings)
    start = utc_now()
    assert run(services).added == len(signed_case.signatures)
    renew_tsa(store, services.settings.organisation, now=start + 8 * YEAR + timedelta(days=200), kdf_iterations=1000)
    assert run(services, now=start + 9 * YEAR + timedelta(days=100)).added == len(signed_case.signatures)
    rollover_root(store, services.settings.organisation, now=start + 13 * YEAR, kdf_iterations=1000)
    assert run(services, now=start + 15 * YEAR).added == 0  # nothing due yet
    assert run(services, now=start + 18 * YEAR).added == len(signed_case.signatures)
    renew_tsa(store, services.settings.organisation, now=start + 22 * YEAR + timedelta(days=200),
              kdf_iterations=1000)
    assert run(services, now=start + 22 * YEAR + timedelta(days=201)).added == len(signed_case.signatures)

    judged = start + 30 * YEAR
    roots = store.trust_anchors().roots
    signatures, records = stored(services)
    assert len(signatures) == len(signed_case.signatures) >= 3
    for signature in signatures:
        evidence = verify_long_term(signature.manifest, signature.cms, signature.timestamp_response,
                                    records[signature.id], roots, at=judged)
        assert evidence.archive_count == 4
        assert all(cert.not_valid_after_utc < judged for cert in evidence.signature.signed.chain)
        with pytest.raises(Invalid, match="can no longer be trusted"):
            verify_long_term(signature.manifest, signature.cms, signature.timestamp_response, None, roots, at=judged)


def test_renewing_the_tsa_and_rolling_the_root_over_are_audited_with_old_and_new_certificates(services):
    store = PkiStore.for_settings(services.settings)
    old_tsa = store.certificate("tsa")
    ctx = AuditContext.system("edms pki (test)")
    with command(services.sessions) as session:
        pki_lifecycle.renew_tsa(services, session, ctx, reason="the TSA certificate enters its last year")
    with command(services.sessions) as session:
        pki_lifecycle.rollover_root(services, session, ctx, reason="the root enters its last five years")
    with command(services.sessions) as session:
        renewed, rolled = session.scalars(select(AuditEvent).where(AuditEvent.action.in_(
            ["pki.tsa_renewed", "pki.root_rolled_over"])).order_by(AuditEvent.seq)).all()
        renewal = json.loads(renewed.changes)["tsa_certificate"]
        assert renewal["old"]["serial"] == format(old_tsa.serial_number, "x")
        assert renewal["new"]["serial"] == format(store.retired_certificates("tsa")[0].serial_number, "x")
        assert renewed.reason == "the TSA certificate enters its last year"
        assert set(json.loads(rolled.changes)) == {"root_certificate", "signing-ca_certificate", "tsa_certificate"}
    assert len(store.trust_anchors().roots) == 2
    assert run(services).problems == []  # the evidence of the old signatures still builds under the new PKI
    from edms.application.integrity import check_integrity
    from edms.pki import trust_anchors

    after = check_integrity(services.engine, only={"audit_checkpoints", "signatures", "archive_timestamps"},
                            trust=trust_anchors(services.settings))
    assert after.ok, [problem.describe() for problem in after.problems]


def test_the_command_line_archives_and_says_what_it_did(settings, signed_case):
    env = {**os.environ, "EDMS_ENV": "testing", "EDMS_DATABASE_URL": settings.database_url,
           "EDMS_DATA_DIR": str(settings.data_dir)}
    command_line = [sys.executable, "-m", "edms.cli", "archive-timestamps"]
    first = subprocess.run(command_line, env=env, capture_output=True, text=True, timeout=120)
    again = subprocess.run(command_line, env=env, capture_output=True, text=True, timeout=120)

    assert first.returncode == 0, first.stderr
    assert f"archive time-stamps added {len(signed_case.signatures)}, problems 0" in first.stdout
    assert again.returncode == 0 and "examined 0, archive time-stamps added 0" in again.stdout


@pytest.mark.req("LTV")
def test_edms_verify_checks_the_archive_timestamps_and_finds_one_written_outside_edms(services, signed_case):
    from edms.application.integrity import check_integrity
    from edms.pki import trust_anchors

    run(services)
    clean = check_integrity(services.engine, only={"archive_timestamps"}, trust=trust_anchors(services.settings))
    assert clean.ok and clean.counts["archive_timestamp"] == len(signed_case.signatures)

    with command(services.sessions) as session:
        first = session.scalars(select(ArchiveTimestamp).order_by(ArchiveTimestamp.id)).first()
        session.add(ArchiveTimestamp(signature_id=first.signature_id, seq=2, archive_stamp=first.archive_stamp,
                                     timestamped_at=first.timestamped_at, tsa_subject=first.tsa_subject,
                                     valid_until=first.valid_until, reason="forged", created_at=first.created_at))
    found = check_integrity(services.engine, only={"archive_timestamps"}, trust=trust_anchors(services.settings))
    messages = [problem.message for problem in found.problems]
    assert not found.ok
    assert "no audit event records this archive time-stamp (the row was written outside edms)" in messages
    assert "the archive time-stamps of this signature do not verify: %(reason)s" in messages


def test_the_tsa_is_renewed_from_the_command_line_with_a_reason(settings, signed_case):
    env = {**os.environ, "EDMS_ENV": "testing", "EDMS_DATABASE_URL": settings.database_url,
           "EDMS_DATA_DIR": str(settings.data_dir)}
    edms = [sys.executable, "-m", "edms.cli", "pki", "renew-tsa"]
    without_reason = subprocess.run(edms, env=env, capture_output=True, text=True, timeout=120)
    renewed = subprocess.run([*edms, "--reason", "annual PKI review"], env=env, capture_output=True, text=True,
                             timeout=120)

    assert without_reason.returncode != 0 and "--reason" in without_reason.stderr
    assert renewed.returncode == 0, renewed.stderr
    assert renewed.stdout.startswith("tsa: ") and "Time-Stamping Authority" in renewed.stdout
    assert len(PkiStore.for_settings(settings).retired_certificates("tsa")) == 1
