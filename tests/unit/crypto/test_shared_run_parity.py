"""Verifying with what a run shares (issue #15: certificates, their signatures and CRL signatures checked once
per run, keyed by their bytes) gives exactly the verdict of the reference path, which checks everything
afresh: on good signatures and on hundreds of tampered ones (a byte flipped in the CMS, the time-stamp
token, an embedded certificate or the signed content; a foreign chain; revoked before or after the
stamped time; expired; a stale CRL), interleaved so that every result kept from one variant is offered to
the next."""
from __future__ import annotations

import hashlib
import random
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from edms.crypto.cms import sign_detached, signature_value
from edms.crypto.pki import bootstrap_pki, build_crl
from edms.crypto.tsa import make_timestamp_response
from edms.signatures import stamped_check
from edms.verifier import memo
from edms.verifier.errors import Invalid
from edms.verifier.stamped import verify_stamped
from tests.unit.crypto.conftest import certified_key

VARIANTS = 400
MANIFEST = '{"document_number":"OOS-2026-0042","meaning":"approval","signer":"秋子 田中"}'.encode()


def verdict(item) -> tuple:
    cms, stamp, content, roots, crls = item
    try:
        result = verify_stamped(cms, stamp, content, roots, crls=crls)
    except Invalid as exc:
        return type(exc).__name__, str(exc)
    return ("ok", result.stamp.gen_time, result.signed.signer.public_bytes(Encoding.DER),
            tuple(cert.public_bytes(Encoding.DER) for cert in result.signed.chain),
            result.stamp.tsa.public_bytes(Encoding.DER))


def flip(data: bytes, rng: random.Random, start: int = 0, end: int | None = None) -> bytes:
    end = len(data) if end is None else end
    position = rng.randrange(start, end)
    changed = bytearray(data)
    changed[position] ^= rng.randrange(1, 256)
    return bytes(changed)


@pytest.fixture(scope="module")
def material(pki, now):
    signers = [certified_key(pki, now, name, user, f"user-{number:04d}")
               for number, (name, user) in enumerate([("Akiko Tanaka", "akiko.tanaka"), ("Kenji Sato", "kenji.sato")])]
    foreign = bootstrap_pki("Someone Else K.K.", now - timedelta(days=1))
    return signers, foreign


def stamped(pki, key, cert, content, at, serial):
    cms = sign_detached(key, cert, content, [pki.intermediate_cert])
    stamp = make_timestamp_response(pki.tsa_key, pki.tsa_cert, [], serial=serial, gen_time=at, nonce=serial,
                                    message_imprint=hashlib.sha256(signature_value(cms)).digest(), policy_oid="1.2.3.4.1")
    return cms, stamp


def variants(pki, now, material, rng: random.Random):
    """(name, (cms, stamp, content, roots, crls)) for good and tampered signatures, in a random order."""
    signers, foreign = material
    at = now - timedelta(hours=1)
    fresh_crl = build_crl(pki.intermediate_cert, pki.intermediate_key, [], now, now + timedelta(days=7))
    made = []
    for serial in range(VARIANTS):
        key, cert = signers[serial % len(signers)]
        content = MANIFEST + str(serial).encode()
        cms, stamp = stamped(pki, key, cert, content, at, serial + 1)
        kind = rng.choice(["good", "good-crl", "cms", "stamp", "content", "signer-cert", "ca-cert", "foreign-root",
                           "revoked-before", "revoked-after", "stale-crl", "expired", "foreign-tsa"])
        crls = [fresh_crl] if kind == "good-crl" else []
        if kind == "cms":
            cms = flip(cms, rng)
        elif kind == "stamp":
            stamp = flip(stamp, rng)
        elif kind == "content":
            content = flip(content, rng)
        elif kind in ("signer-cert", "ca-cert"):
            der = (cert if kind == "signer-cert" else pki.intermediate_cert).public_bytes(Encoding.DER)
            start = cms.index(der)
            cms = flip(cms, rng, start, start + len(der))
            try:  # stamped again, so that the certificate is what fails, whenever the CMS still parses
                stamp = make_timestamp_response(pki.tsa_key, pki.tsa_cert, [], serial=serial + 1, gen_time=at,
                                                nonce=None, message_imprint=hashlib.sha256(signature_value(cms)).digest(),
                                                policy_oid="1.2.3.4.1")
            except ValueError:
                pass
        elif kind == "foreign-root":
            pass  # judged against another organisation's root below
        elif kind in ("revoked-before", "revoked-after"):
            when = at - timedelta(minutes=5) if kind == "revoked-before" else at + timedelta(minutes=5)
            crls = [build_crl(pki.intermediate_cert, pki.intermediate_key, [(cert.serial_number, when)], now,
                              now + timedelta(days=7))]
        elif kind == "stale-crl":
            crls = [build_crl(pki.intermediate_cert, pki.intermediate_key, [], at - timedelta(days=1), now)]
        elif kind == "expired":
            cms, stamp = stamped(pki, key, cert, content, cert.not_valid_after_utc + timedelta(days=1), serial + 1)
        elif kind == "foreign-tsa":
            cms = sign_detached(key, cert, content, [pki.intermediate_cert])
            stamp = make_timestamp_response(foreign.tsa_key, foreign.tsa_cert, [], serial=1, gen_time=at, nonce=None,
                                            message_imprint=hashlib.sha256(signature_value(cms)).digest(),
                                            policy_oid="1.2.3.4.1")
        made.append((kind, (cms, stamp, content, [foreign.root_cert] if kind == "foreign-root" else [pki.root_cert], crls)))
    return made


@pytest.mark.req("11.10(a)", "11.70")
def test_a_shared_run_gives_the_reference_verdict_on_good_and_tampered_signatures(pki, now, material):
    rng = random.Random(15)
    items = variants(pki, now, material, rng)
    reference = [verdict(item) for _kind, item in items]
    assert memo.active() is None
    with memo.shared_run() as shared:
        fast = [verdict(item) for _kind, item in items]
        again = [verdict(item) for _kind, item in reversed(items)][::-1]  # every result now comes from the memo
    assert shared.hits > VARIANTS  # what the signatures share was indeed checked once
    for (kind, _item), expected, first, second in zip(items, reference, fast, again, strict=True):
        assert first == expected, kind
        assert second == expected, kind
    kinds = {kind: expected[0] for (kind, _item), expected in zip(items, reference, strict=True)}
    assert kinds["good"] == kinds["good-crl"] == kinds["revoked-after"] == "ok"
    assert kinds["revoked-before"] == kinds["stale-crl"] == kinds["expired"] == "SignatureInvalid"
    assert kinds["foreign-tsa"] == kinds["foreign-root"] == "TimestampInvalid"  # the root judges the TSA too


@pytest.mark.req("11.10(a)")
def test_a_worker_judges_as_this_process_does(pki, now, material):
    """The batch a worker process judges (`stamped_check.check_batch`) against the trust it was given as bytes."""
    rng = random.Random(16)
    items = [item for kind, item in variants(pki, now, material, rng)[:120] if kind != "foreign-root"]
    crls = [build_crl(pki.intermediate_cert, pki.intermediate_key, [(material[0][0][1].serial_number, now)], now,
                      now + timedelta(days=7))]
    expected = [stamped_check.check(cms, stamp, content, [pki.root_cert], [pki.root_cert], crls)
                for cms, stamp, content, _roots, _crls in items]
    stamped_check.start_worker(stamped_check.TrustBytes.of([pki.root_cert], [pki.root_cert], crls))
    try:
        judged = stamped_check.check_batch([(cms, stamp, content) for cms, stamp, content, _roots, _crls in items])
    finally:
        stamped_check.stop_worker()
    assert judged == expected
    assert {outcome.failed for outcome in judged} >= {None, stamped_check.TIMESTAMP}


def test_outside_a_shared_run_nothing_is_kept(pki):
    der = pki.root_cert.public_bytes(Encoding.DER)
    assert memo.certificate(der) is not memo.certificate(der)
    assert memo.issued_by(pki.intermediate_cert, pki.root_cert)
    assert memo.active() is None



def _serial_tlv(cert) -> bytes:
    number = cert.serial_number
    content = number.to_bytes(number.bit_length() // 8 + 1, "big", signed=True)
    return bytes([0x02, len(content)]) + content


@pytest.mark.req("11.70")
def test_a_signer_found_once_per_run_is_reused_only_for_the_same_certificates_and_signer_identifier(pki, now, material):
    """Round 4 keeps, per run, which certificate of a CMS's certificate set is the signer's, keyed by the set's
    bytes and the signer identifier. Two people's signatures carrying the very same certificate set, and one whose
    signer identifier was changed to name the other person (or no one), each get the reference verdict, in
    whichever order a run meets them."""
    (key_a, cert_a), (key_b, cert_b) = material[0]
    at = now - timedelta(hours=1)
    cms_a = sign_detached(key_a, cert_a, MANIFEST, [pki.intermediate_cert, cert_b])
    cms_b = sign_detached(key_b, cert_b, MANIFEST, [pki.intermediate_cert, cert_a])
    set_a, set_b = (stamped_check.verifier_cms.signed_data(cms).certificates for cms in (cms_a, cms_b))
    assert sorted(set_a) == sorted(set_b)
    serial_a, serial_b = _serial_tlv(cert_a), _serial_tlv(cert_b)
    position = cms_a.rindex(serial_a)  # the signer identifier follows the certificates
    items = [cms_a, cms_b]
    if len(serial_a) == len(serial_b):
        items.append(cms_a[:position] + serial_b + cms_a[position + len(serial_a):])  # names B, signed by A
    unknown = bytearray(cms_a)
    unknown[position + len(serial_a) - 1] ^= 0x01  # names a certificate the set does not hold
    items.append(bytes(unknown))
    stamps = [make_timestamp_response(pki.tsa_key, pki.tsa_cert, [], serial=number + 1, gen_time=at, nonce=None,
                                      message_imprint=hashlib.sha256(signature_value(cms)).digest(),
                                      policy_oid="1.2.3.4.1") for number, cms in enumerate(items)]
    cases = [(cms, stamp, MANIFEST, [pki.root_cert], []) for cms, stamp in zip(items, stamps, strict=True)]
    reference = [verdict(case) for case in cases]
    assert reference[0][0] == reference[1][0] == "ok" and reference[0][2] != reference[1][2]
    assert all(result[0] == "SignatureInvalid" for result in reference[2:])
    for order in (cases, cases[::-1]):
        with memo.shared_run():
            judged = [verdict(case) for case in order]
        assert judged == [reference[cases.index(case)] for case in order]


@pytest.mark.req("11.70")
def test_a_signature_value_verified_in_a_run_is_reused_only_for_the_same_certificate_and_bytes(pki, now, material):
    """Round 4 keeps, for the last few checks of a run, that a signature value verified with a certificate's key
    over the signed bytes (the offline verifier judges each signature twice). A signature value changed in one
    byte, or the same CMS over other content, met right after the good one, each get the reference verdict."""
    key, cert = material[0][0]
    at = now - timedelta(hours=1)
    cms, stamp = stamped(pki, key, cert, MANIFEST, at, 9001)
    value = signature_value(cms)
    position = cms.rindex(value) + len(value) - 1
    changed = bytearray(cms)
    changed[position] ^= 0x01
    forged = bytes(changed)
    forged_stamp = make_timestamp_response(pki.tsa_key, pki.tsa_cert, [], serial=9002, gen_time=at, nonce=None,
                                           message_imprint=hashlib.sha256(signature_value(forged)).digest(),
                                           policy_oid="1.2.3.4.1")
    cases = [(cms, stamp, MANIFEST, [pki.root_cert], []), (forged, forged_stamp, MANIFEST, [pki.root_cert], []),
             (cms, stamp, MANIFEST + b" ", [pki.root_cert], []), (cms, stamp, MANIFEST, [pki.root_cert], [])]
    reference = [verdict(case) for case in cases]
    assert [result[0] for result in reference] == ["ok", "SignatureInvalid", "SignatureInvalid", "ok"]
    with memo.shared_run():
        assert [verdict(case) for case in cases] == reference
        assert [verdict(case) for case in cases[::-1]] == reference[::-1]
