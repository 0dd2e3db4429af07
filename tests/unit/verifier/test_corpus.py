"""One corpus of good and tampered signatures, time-stamps, chains and CRLs, judged the same way by every
verification entry point: the offline verifier (`edms-verify`, inside every package), the application's
verdict on a stored signature (the pages, the API and `edms verify` all reach it through
`edms.signatures.verification`), and the crypto layer the checkpoints and signing use."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from edms.crypto.cms import sign_detached, verify_detached
from edms.crypto.pki import (
    bootstrap_pki,
    build_crl,
    generate_private_key,
    issue_user_certificate,
)
from edms.crypto.tsa import make_timestamp_response, verify_timestamp
from edms.pki.store import TrustAnchors
from edms.signatures import verification
from edms.verifier.cms import signature_value
from edms.verifier.contents import Trust as PackageTrust
from edms.verifier.errors import Invalid

ORG = "Corpus Biologics K.K."
MANIFEST = json.dumps({"type": "edms.electronic-signature", "meaning": "approved", "signer": "山田 花子"},
                      ensure_ascii=False, sort_keys=True).encode("utf-8")
POLICY = "1.3.6.1.4.1.99999.1"


@dataclass(frozen=True)
class Case:
    name: str
    cms: bytes
    tsr: bytes
    content: bytes
    crls: tuple
    valid: bool


def _user(pki, now, name="山田 花子", username="h.yamada", user_id="42"):
    key = generate_private_key()
    cert = issue_user_certificate(pki.intermediate_cert, pki.intermediate_key, key.public_key(), printed_name=name,
                                  username=username, user_id=user_id, org_name=ORG, now=now - timedelta(days=1))
    return key, cert


def _stamp(pki, cms, at, *, digest=None):
    imprint = digest if digest is not None else hashlib.sha256(signature_value(cms)).digest()
    return make_timestamp_response(pki.tsa_key, pki.tsa_cert, (), message_imprint=imprint, serial=1, gen_time=at,
                                   nonce=None, policy_oid=POLICY)


def _flip(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1:]


def build_corpus() -> tuple[object, list[Case]]:
    now = datetime.now(UTC).replace(microsecond=0)
    pki = bootstrap_pki(ORG, now - timedelta(days=2))
    key, cert = _user(pki, now)
    cms = sign_detached(key, cert, MANIFEST, [pki.intermediate_cert])
    tsr = _stamp(pki, cms, now)
    other = bootstrap_pki("Another Org", now - timedelta(days=2))
    stranger_key, stranger = _user(other, now)
    stranger_cms = sign_detached(stranger_key, stranger, MANIFEST, [other.intermediate_cert])
    serial = cert.serial_number

    def crl(revoked, issued, ca_key=None):
        return build_crl(pki.intermediate_cert, ca_key or pki.intermediate_key, revoked, issued, issued + timedelta(days=7))

    signature_at = cms.rfind(signature_value(cms)) + 8
    cases = [
        Case("good", cms, tsr, MANIFEST, (), True),
        Case("good, with a CRL issued after the signature", cms, tsr, MANIFEST, (crl([], now + timedelta(hours=1)),), True),
        Case("good, revoked only after the time-stamp", cms, tsr, MANIFEST,
             (crl([(serial, now + timedelta(hours=1))], now + timedelta(hours=2)),), True),
        Case("content changed by one byte", cms, tsr, _flip(MANIFEST, 5), (), False),
        Case("CMS signature value changed", _flip(cms, signature_at), tsr, MANIFEST, (), False),
        Case("CMS truncated", cms[:-20], tsr, MANIFEST, (), False),
        Case("not CMS at all", b"\x30\x03\x02\x01\x05", tsr, MANIFEST, (), False),
        Case("time-stamp over other data", cms, _stamp(pki, cms, now, digest=bytes(32)), MANIFEST, (), False),
        Case("time-stamp token damaged", cms, _flip(tsr, len(tsr) - 10), MANIFEST, (), False),
        Case("time-stamp missing", cms, b"", MANIFEST, (), False),
        Case("chain to another organisation's root", stranger_cms, _stamp(pki, stranger_cms, now), MANIFEST, (), False),
        Case("certificate revoked before the time-stamp", cms, tsr, MANIFEST,
             (crl([(serial, now - timedelta(hours=1))], now + timedelta(hours=1)),), False),
        Case("CRL older than the signature", cms, tsr, MANIFEST, (crl([], now - timedelta(hours=1)),), False),
        Case("CRL not signed by the issuer", cms, tsr, MANIFEST,
             (crl([], now + timedelta(hours=1), ec.generate_private_key(ec.SECP256R1())),), False),
        Case("signature made after the certificate expired", cms, _stamp(pki, cms, now + timedelta(days=3650)),
             MANIFEST, (), False),
    ]
    return pki, cases


PKI, CORPUS = build_corpus()


def offline_verifier(case: Case) -> bool:
    """As `edms-verify` judges a signature in a package (edms.verifier, cryptography only)."""
    trust = PackageTrust(PKI.root_cert, PKI.system_cert, [PKI.intermediate_cert], list(case.crls))
    try:
        result, _stamp = trust.signed(case.cms, case.tsr, case.content)
    except Invalid:
        return False
    return len(result.chain) == 3


def application_verdict(case: Case) -> bool:
    """The cryptographic verdict the pages, the API and `edms verify` show for a stored signature."""
    anchors = TrustAnchors((PKI.root_cert,), PKI.system_cert, (PKI.root_cert,))
    trust = verification.Trust(anchors, {}, case.crls)
    stored = SimpleNamespace(cms=case.cms, manifest=case.content, timestamp_response=case.tsr)
    return verification._check_crypto(stored, trust).verdict is None


def crypto_layer(case: Case) -> bool:
    """edms.crypto, as checkpoints and signing check what they have just made."""
    try:
        digest = hashlib.sha256(signature_value(case.cms)).digest()
    except Invalid:
        return False
    stamp = verify_timestamp(case.tsr, digest, [PKI.root_cert], crls=case.crls)
    if not stamp.ok:
        return False
    return verify_detached(case.cms, case.content, [PKI.root_cert], crls=case.crls, at=stamp.gen_time).ok


ENTRY_POINTS = {"edms-verify": offline_verifier, "application": application_verdict, "edms.crypto": crypto_layer}


@pytest.mark.req("11.70")
@pytest.mark.req("ERES-e-signature")
@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_every_entry_point_judges_each_corpus_signature_the_same_way(case):
    verdicts = {name: judge(case) for name, judge in ENTRY_POINTS.items()}
    assert verdicts == dict.fromkeys(ENTRY_POINTS, case.valid)


@pytest.mark.req("11.300(c)")
def test_a_crl_issued_before_the_signature_cannot_show_the_certificate_was_unrevoked_then():
    """The CRL rule (edms.verifier.chain): evidence older than the signature proves nothing about it."""
    stale = next(case for case in CORPUS if case.name == "CRL older than the signature")
    trust = PackageTrust(PKI.root_cert, PKI.system_cert, [PKI.intermediate_cert], list(stale.crls))
    with pytest.raises(Invalid, match="predates .* cannot show the certificate was unrevoked then"):
        trust.signed(stale.cms, stale.tsr, stale.content)
    digest = hashlib.sha256(signature_value(stale.cms)).digest()
    at = verify_timestamp(stale.tsr, digest, [PKI.root_cert]).gen_time
    assert "predates" in verify_detached(stale.cms, stale.content, [PKI.root_cert], crls=stale.crls, at=at).reason
