"""`edms verify`'s signatures check, fast (issue #15: shared certificates checked once per run, batch reads,
the cryptography judged by worker processes) gives exactly the verdicts of the reference path, which
verifies each stored signature on its own as a page does (`verify_stored`, its in-process cache emptied):
on the signed case with several signatures tampered with at once, in different ways."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, insert, select, update

from edms.application.integrity import check_integrity
from edms.documents import models as dm
from edms.pki import trust_anchors
from edms.signatures import verification
from edms.signatures.models import Signature
from tests.integration.test_signatures_verification import attacker
from tests.integration.test_verdict_parity import (
    change_manifest_byte,
    find_target,
    flip_cms_bit,
    flip_cms_bit_and_restamp,
    foreign_pki,
    move_to_another_version,
    revoke_before_timestamp,
    swap_timestamp,
)

TAMPERS = (flip_cms_bit, flip_cms_bit_and_restamp, swap_timestamp, change_manifest_byte, move_to_another_version,
           revoke_before_timestamp, foreign_pki)


def reference_problems(services, trust) -> set[tuple]:
    problems = set()
    with services.sessions() as session:
        run_trust = verification.trust_from(session, trust)
        for signature in session.scalars(select(Signature).order_by(Signature.id)):
            verification._cache.clear()
            verdict = verification.verify_stored(session, signature, run_trust)
            if not verdict.ok:
                problems.add((signature.signature_id, verdict.message, tuple(sorted(verdict.params.items()))))
    return problems


def run_problems(services, trust, **options) -> set[tuple]:
    report = check_integrity(services.engine, only={"signatures"}, trust=trust, **options)
    assert report.problem_count == len(report.problems)
    return {(problem.key, problem.message, tuple(sorted(problem.params.items()))) for problem in report.problems}


@pytest.mark.req("11.10(a)", "11.70")
def test_the_fast_signatures_check_gives_the_reference_verdicts_on_good_and_tampered_signatures(app, signed_case,
                                                                                                 settings):
    services = app.extensions["edms"]
    trust = trust_anchors(settings)
    clean = run_problems(services, trust, signature_workers=2, signature_pool_threshold=0, batch_size=4)
    assert clean == set() == reference_problems(services, trust)
    documents = signed_case.documents
    for index, tamper in enumerate(TAMPERS):
        tamper(settings, find_target(services, documents[index % len(documents)]))
    expected = reference_problems(services, trust)
    assert len({key for key, _message, _params in expected}) >= min(len(TAMPERS), len(documents))
    assert run_problems(services, trust, signature_workers=0) == expected
    assert run_problems(services, trust, signature_workers=2, signature_pool_threshold=0, batch_size=4) == expected
    assert run_problems(services, trust, signature_workers=1, signature_pool_threshold=0, batch_size=1) == expected


# Changes to what a signature links to, judged by the worker processes from plain rows since issue #15's second
# round (the main process only reads): each must give the page's verdict.
def change_row_comment(settings, target) -> None:
    with attacker(settings, "signatures") as connection:
        connection.execute(update(Signature).where(Signature.id == target.id).values(comment="changed afterwards"))


def change_version_content(settings, target) -> None:
    with attacker(settings, "document_versions") as connection:
        version_id = connection.scalar(select(Signature.version_id).where(Signature.id == target.id))
        content = json.loads(connection.scalar(select(dm.DocumentVersion.content)
                                               .where(dm.DocumentVersion.id == version_id)))
        content["tampered"] = "一文字"
        connection.execute(update(dm.DocumentVersion).where(dm.DocumentVersion.id == version_id)
                           .values(content=json.dumps(content, ensure_ascii=False)))


def swap_credential(settings, target) -> None:
    """The row pointed at another signer's credential (the certificate in the CMS is no longer edms's for
    the signer named)."""
    with attacker(settings, "signatures") as connection:
        other = connection.scalar(select(Signature.credential_id)
                                  .where(Signature.credential_id != target.row.credential_id).limit(1))
        connection.execute(update(Signature).where(Signature.id == target.id).values(credential_id=other))


ROW_TAMPERS = (change_row_comment, change_version_content, swap_credential, move_to_another_version)


@pytest.mark.req("11.10(a)", "11.70")
def test_the_link_to_the_record_judged_by_workers_from_plain_rows_gives_the_reference_verdicts(app, signed_case,
                                                                                               settings):
    services = app.extensions["edms"]
    trust = trust_anchors(settings)
    documents = signed_case.documents
    for index, tamper in enumerate(ROW_TAMPERS):
        tamper(settings, find_target(services, documents[index % len(documents)]))
    expected = reference_problems(services, trust)
    assert len(expected) >= min(len(ROW_TAMPERS), len(documents))
    assert run_problems(services, trust, signature_workers=0) == expected
    assert run_problems(services, trust, signature_workers=2, signature_pool_threshold=0, batch_size=3) == expected


@pytest.mark.req("11.10(a)")
def test_a_removed_signature_and_one_written_outside_edms_are_found_by_the_fast_check(app, signed_case, settings):
    services = app.extensions["edms"]
    trust = trust_anchors(settings)
    removed = find_target(services, signed_case.documents[0])
    # The removed row written back under a new id, outside edms: its manifest names the old one.
    columns = {column.name: getattr(removed.row, column.key) for column in Signature.__table__.columns
               if column.name not in ("id", "signature_id")}
    with attacker(settings, "signatures") as connection:
        connection.execute(delete(Signature).where(Signature.id == removed.id))
        connection.execute(insert(Signature).values(signature_id="00000000-0000-4000-8000-000000000000", **columns))
    expected = reference_problems(services, trust) | {
        ("00000000-0000-4000-8000-000000000000", "no audit event records this signature (the row was written "
                                                 "outside edms)", ())}
    for workers in (0, 2):
        problems = run_problems(services, trust, signature_workers=workers, signature_pool_threshold=0, batch_size=2)
        missing = {problem for problem in problems if problem[0] == removed.signature_id}
        assert len(missing) == 1 and "missing (removed)" in next(iter(missing))[1]
        assert problems - missing == expected
