"""A chain judged once per run (issue #15: the validity window, constraints and CRL facts of one chain, keyed by
the bytes of its certificates, roots and CRLs) says exactly what the reference says at every moment: at and
around every validity boundary, revocation date and CRL issue time, for good chains, a chain through a
certificate that is not a CA, a chain to a foreign root, CRLs revoking before and after, stale CRLs and a CRL
signed by another key."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from edms.crypto.pki import bootstrap_pki, build_crl, generate_private_key
from edms.verifier import memo
from edms.verifier.chain import verify_chain
from edms.verifier.errors import Invalid
from tests.unit.crypto.conftest import certified_key


def outcome(leaf, untrusted, roots, crls, at) -> tuple:
    try:
        chain = verify_chain(leaf, untrusted, roots, crls, at)
    except Invalid as exc:
        return type(exc).__name__, str(exc)
    return "ok", tuple(cert.public_bytes(Encoding.DER) for cert in chain)


def issued_by_a_person(issuer_key, issuer_cert, now) -> x509.Certificate:
    """A certificate signed with a person's key: its chain passes through a certificate that is not a CA."""
    key = generate_private_key()
    return (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Forged")]))
            .issuer_name(issuer_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=6)).not_valid_after(now + timedelta(hours=6))
            .sign(issuer_key, hashes.SHA256()))


@pytest.fixture(scope="module")
def cases(pki, now):
    key, person = certified_key(pki, now, "Akiko Tanaka", "akiko.tanaka", "user-0001")
    foreign = bootstrap_pki("Someone Else K.K.", now - timedelta(days=1))
    revoked_at = now - timedelta(hours=2)
    ca, ca_key = pki.intermediate_cert, pki.intermediate_key
    crls = {
        "none": [],
        "fresh": [build_crl(ca, ca_key, [], now, now + timedelta(days=7))],
        "revoking": [build_crl(ca, ca_key, [(person.serial_number, revoked_at)], now, now + timedelta(days=7))],
        "stale": [build_crl(ca, ca_key, [], now - timedelta(hours=3), now + timedelta(days=7))],
        "stale-revoking": [build_crl(ca, ca_key, [(person.serial_number, revoked_at)], now - timedelta(hours=1),
                                     now + timedelta(days=7))],
        "other-key": [build_crl(ca, foreign.intermediate_key, [], now, now + timedelta(days=7))],
        "root-and-ca": [build_crl(pki.root_cert, pki.root_key, [], now, now + timedelta(days=7)),
                        build_crl(ca, ca_key, [(person.serial_number, revoked_at)], now, now + timedelta(days=7))],
    }
    chains = {
        "person": (person, [ca], [pki.root_cert]),
        "tsa": (pki.tsa_cert, [], [pki.root_cert]),
        "through-a-person": (issued_by_a_person(key, person, now), [person, ca], [pki.root_cert]),
        "foreign-root": (person, [ca], [foreign.root_cert]),
    }
    boundaries = [revoked_at, now - timedelta(hours=3), now - timedelta(hours=1), now]
    for leaf, untrusted, _roots in chains.values():
        for cert in (leaf, *untrusted):
            boundaries += [cert.not_valid_before_utc, cert.not_valid_after_utc]
    moments = []
    for boundary in boundaries:
        moments += [boundary + timedelta(microseconds=delta) for delta in (-1_000_000, -1, 0, 1, 999_999, 1_000_000)]
    rng = random.Random(15)
    moments += [now + timedelta(seconds=rng.uniform(-3 * 86_400, 3 * 86_400)) for _ in range(60)]
    rng.shuffle(moments)
    return chains, crls, moments


@pytest.mark.req("11.10(a)", "11.70")
def test_a_chain_judged_once_gives_the_reference_verdict_at_every_moment(cases):
    chains, crls, moments = cases
    combinations = [(chain, crl) for chain in chains.values() for crl in crls.values()]
    assert memo.active() is None
    reference = [[outcome(*chain, crl, at) for at in moments] for chain, crl in combinations]
    with memo.shared_run() as shared:
        fast = [[outcome(*chain, crl, at) for at in moments] for chain, crl in combinations]
        assert len(shared.chains) == len(combinations)  # each chain judged once for all its moments
    assert fast == reference
    verdicts = {verdict[0] if verdict[0] == "ok" else verdict[1].split(" (")[0].split(" on ")[0]
                for row in reference for verdict in row}
    assert "ok" in verdicts
    messages = " | ".join(str(verdict[1]) for row in reference for verdict in row if verdict[0] != "ok")
    for expected in ("is not valid on", "is not a CA certificate", "does not chain to a trusted root",
                     "signer certificate revoked on", "predates", "is not signed by it"):
        assert expected in messages, expected
