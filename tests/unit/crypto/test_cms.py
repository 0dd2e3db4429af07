"""Detached CMS signatures: bound to the exact bytes and the signer, checkable by openssl, revocation by time."""
import json
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import cms as asn1_cms
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from edms.crypto.cms import sign_detached, signature_value, signer_certificate, verify_detached
from edms.crypto.pki import bootstrap_pki, build_crl, generate_private_key
from tests.unit.crypto.conftest import certified_key, write_pem

MANIFEST = json.dumps(
    {"document": "DEV-2026-0042", "version": 3, "sha256": "9f" * 32, "meaning": "approved",
     "signer": "山田 太郎", "signed_at": "2026-04-01T09:00:00.000000Z"},
    ensure_ascii=False, sort_keys=True, separators=(",", ":"),
).encode("utf-8")


@pytest.fixture(scope="module")
def alice(pki, now):
    return certified_key(pki, now, "山田 太郎", "t.yamada", "user-0001")


@pytest.fixture(scope="module")
def bob(pki, now):
    return certified_key(pki, now, "Bob Smith", "b.smith", "user-0002")


@pytest.fixture(scope="module")
def signature(pki, alice):
    key, cert = alice
    return sign_detached(key, cert, MANIFEST, [pki.intermediate_cert])


def verify(signature, data, pki, **kwargs):
    return verify_detached(signature, data, [pki.root_cert], **kwargs)


def openssl_cms_verify(tmp_path, signature, content, root):
    (tmp_path / "sig.p7s").write_bytes(signature)
    (tmp_path / "manifest.json").write_bytes(content)
    return subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp_path / "sig.p7s"),
         "-content", str(tmp_path / "manifest.json"), "-CAfile", write_pem(tmp_path / "ca.pem", root),
         "-out", "/dev/null"],
        capture_output=True, text=True,
    )


def test_signature_over_the_exact_bytes_verifies_and_names_signer_chain_and_time(signature, pki, alice, now):
    result = verify(signature, MANIFEST, pki)
    assert result.ok, result.reason
    assert result.signer_cert == alice[1]
    assert result.chain == (alice[1], pki.intermediate_cert, pki.root_cert)
    assert abs(result.signing_time - datetime.now(UTC)) < timedelta(minutes=5)


def test_signature_carries_content_type_message_digest_and_signing_time_attributes(signature):
    signer_info = asn1_cms.ContentInfo.load(signature)["content"]["signer_infos"][0]
    attributes = {attribute["type"].native for attribute in signer_info["signed_attrs"]}
    assert attributes == {"content_type", "message_digest", "signing_time"}
    assert signer_info["digest_algorithm"]["algorithm"].native == "sha256"
    assert asn1_cms.ContentInfo.load(signature)["content"]["encap_content_info"]["content"].native is None


@pytest.mark.req("11.70")
@pytest.mark.parametrize("position", [0, len(MANIFEST) // 2, len(MANIFEST) - 1])
def test_one_changed_byte_fails_verification(signature, pki, position):
    altered = bytearray(MANIFEST)
    altered[position] ^= 0x01
    result = verify(signature, bytes(altered), pki)
    assert not result.ok
    assert result.reason == "content does not match the signed message digest"


@pytest.mark.req("11.70")
def test_signature_transplanted_onto_another_version_fails(signature, pki):
    other_version = MANIFEST.replace(b'"version":3', b'"version":4')
    assert not verify(signature, other_version, pki).ok


@pytest.mark.req("11.70")
def test_another_users_certificate_substituted_for_the_signers_fails(signature, pki, bob):
    content_info = asn1_cms.ContentInfo.load(signature)
    signed_data = content_info["content"]
    bob_cert = asn1_x509.Certificate.load(bob[1].public_bytes(serialization.Encoding.DER))
    signed_data["certificates"] = [bob_cert, *list(signed_data["certificates"])[1:]]
    signed_data["signer_infos"][0]["sid"] = asn1_cms.SignerIdentifier(
        name="issuer_and_serial_number", value={"issuer": bob_cert.issuer, "serial_number": bob_cert.serial_number}
    )
    result = verify(content_info.dump(force=True), MANIFEST, pki)
    assert not result.ok
    assert result.reason == "the signature does not verify with the signer's certificate"


@pytest.mark.req("11.70")
def test_changed_signing_time_attribute_fails(signature, pki):
    content_info = asn1_cms.ContentInfo.load(signature)
    for attribute in content_info["content"]["signer_infos"][0]["signed_attrs"]:
        if attribute["type"].native == "signing_time":
            attribute["values"] = [asn1_cms.Time(name="utc_time", value=datetime(2020, 1, 1, tzinfo=UTC))]
    result = verify(content_info.dump(force=True), MANIFEST, pki)
    assert not result.ok and "does not verify" in result.reason


def test_signer_whose_root_is_not_trusted_fails(signature):
    stranger_root = bootstrap_pki("Another Org", datetime.now(UTC) - timedelta(days=1)).root_cert
    result = verify_detached(signature, MANIFEST, [stranger_root])
    assert not result.ok
    assert result.reason == "the certificate of Example Cell Therapy K.K. Signing CA does not chain to a trusted root"


def test_signature_without_its_intermediate_certificate_cannot_be_chained(pki, alice):
    result = verify(sign_detached(*alice, MANIFEST), MANIFEST, pki)
    assert not result.ok and "does not chain to a trusted root" in result.reason


def test_signature_judged_after_the_certificate_expired_fails(signature, pki, alice):
    result = verify(signature, MANIFEST, pki, at=alice[1].not_valid_after_utc + timedelta(seconds=1))
    assert not result.ok and "is not valid on" in result.reason


def test_certificate_authority_key_cannot_sign_documents(pki):
    result = verify(sign_detached(pki.intermediate_key, pki.intermediate_cert, MANIFEST), MANIFEST, pki)
    assert not result.ok and "may not sign" in result.reason


@pytest.mark.req("11.300(c)")
def test_certificate_revoked_before_the_signature_time_fails(signature, pki, alice, now):
    crl = build_crl(pki.intermediate_cert, pki.intermediate_key, [(alice[1].serial_number, now)], now,
                    now + timedelta(days=7))
    for at in (now, now + timedelta(hours=1)):
        result = verify(signature, MANIFEST, pki, crls=[crl], at=at)
        assert not result.ok
        assert result.reason == f"signer certificate revoked on {now:%Y-%m-%d %H:%M:%S} UTC"


@pytest.mark.req("11.300(c)")
def test_certificate_revoked_after_the_signature_time_still_verifies(signature, pki, alice, now):
    revoked_at = now + timedelta(hours=1)
    crl = build_crl(pki.intermediate_cert, pki.intermediate_key, [(alice[1].serial_number, revoked_at)],
                    revoked_at, revoked_at + timedelta(days=7))
    assert verify(signature, MANIFEST, pki, crls=[crl], at=now).ok
    assert not verify(signature, MANIFEST, pki, crls=[crl], at=revoked_at + timedelta(hours=1)).ok


@pytest.mark.req("11.300(c)")
def test_revoked_signing_ca_fails_every_signature_after_its_revocation(signature, pki, now):
    crl = build_crl(pki.root_cert, pki.root_key, [(pki.intermediate_cert.serial_number, now)], now,
                    now + timedelta(days=7))
    result = verify(signature, MANIFEST, pki, crls=[crl], at=now + timedelta(seconds=1))
    assert not result.ok
    assert result.reason.startswith("CA certificate of Example Cell Therapy K.K. Signing CA revoked on")


def test_crl_not_signed_by_the_issuer_is_refused(signature, pki, now):
    forged = build_crl(pki.intermediate_cert, generate_private_key(), [], now, now + timedelta(days=7))
    result = verify(signature, MANIFEST, pki, crls=[forged], at=now)
    assert not result.ok and "is not signed by it" in result.reason


def test_crl_of_another_issuer_does_not_revoke_a_certificate_with_the_same_serial(signature, pki, alice, now):
    other = bootstrap_pki("Another Org", now)
    crl = build_crl(other.intermediate_cert, other.intermediate_key, [(alice[1].serial_number, now)], now,
                    now + timedelta(days=7))
    assert verify(signature, MANIFEST, pki, crls=[crl], at=now + timedelta(hours=1)).ok


@pytest.mark.parametrize("garbage", [b"", b"not a signature", MANIFEST])
def test_input_that_is_not_cms_fails_with_a_reason(pki, garbage):
    result = verify(garbage, MANIFEST, pki)
    assert not result.ok and "well-formed" in result.reason


def test_naive_judgement_time_is_refused(signature, pki):
    with pytest.raises(ValueError, match="naive"):
        verify(signature, MANIFEST, pki, at=datetime(2026, 4, 1))


def test_signature_value_is_the_signer_infos_ecdsa_signature(signature):
    value = signature_value(signature)
    assert value == asn1_cms.ContentInfo.load(signature)["content"]["signer_infos"][0]["signature"].native
    r, s = decode_dss_signature(value)
    assert r > 0 and s > 0


def test_signer_certificate_is_read_from_the_signature(signature, alice):
    assert signer_certificate(signature) == alice[1]


@pytest.mark.req("11.30")
@pytest.mark.req("ERES-e-signature")
def test_openssl_verifies_the_signature_offline_against_the_root_ca(signature, pki, tmp_path):
    result = openssl_cms_verify(tmp_path, signature, MANIFEST, pki.root_cert)
    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr


@pytest.mark.req("11.30")
@pytest.mark.req("11.70")
@pytest.mark.req("ERES-e-signature")
def test_openssl_rejects_the_signature_after_a_one_byte_change(signature, pki, tmp_path):
    altered = bytearray(MANIFEST)
    altered[10] ^= 0x01
    result = openssl_cms_verify(tmp_path, signature, bytes(altered), pki.root_cert)
    assert result.returncode != 0
    assert "content verify error" in result.stderr


@pytest.mark.req("11.30")
def test_signature_made_by_openssl_verifies_here(pki, alice, tmp_path):
    key, cert = alice
    (tmp_path / "user.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (tmp_path / "manifest.json").write_bytes(MANIFEST)
    subprocess.run(
        ["openssl", "cms", "-sign", "-binary", "-md", "sha256", "-outform", "DER",
         "-in", str(tmp_path / "manifest.json"), "-signer", write_pem(tmp_path / "user.pem", cert),
         "-inkey", str(tmp_path / "user.key"), "-certfile", write_pem(tmp_path / "chain.pem", pki.intermediate_cert),
         "-out", str(tmp_path / "sig.p7s")],
        capture_output=True, check=True,
    )
    result = verify((tmp_path / "sig.p7s").read_bytes(), MANIFEST, pki)
    assert result.ok, result.reason
    assert result.signer_cert == cert
