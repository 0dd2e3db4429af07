"""`edms verify`'s signatures check, fast (issue #15: shared certificates checked once per run, batch reads,
the cryptography judged by worker processes) gives exactly the verdicts of the reference path, which
verifies each stored signature on its own as a page does (`verify_stored`, its in-process cache emptied):
on the signed case with several signatures tampered with at once, in different ways."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from edms.application.integrity import check_integrity
from edms.pki import trust_anchors
from edms.signatures import verification
from edms.signatures.models import Signature
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
