"""The organisation's PKI: what each certificate may do, who it names, and that openssl agrees."""
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from edms.crypto.pki import bootstrap_pki, build_crl, generate_private_key, issue_user_certificate
from tests.unit.crypto.conftest import ORG, write_pem

NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pki():
    return bootstrap_pki(ORG, NOW)


@pytest.fixture(scope="module")
def user_cert(pki):
    return issue_user_certificate(
        pki.intermediate_cert,
        pki.intermediate_key,
        generate_private_key().public_key(),
        printed_name="山田 太郎",
        username="t.yamada",
        user_id="0f6a9c1e-5b7d-4c2a-9e41-7d3f0b8a2c55",
        org_name=ORG,
        now=NOW,
    )


def extension(cert, kind):
    return cert.extensions.get_extension_for_class(kind)


def years(cert):
    return cert.not_valid_after_utc.year - cert.not_valid_before_utc.year


def test_root_ca_is_a_self_signed_p256_ca_valid_20_years(pki):
    root = pki.root_cert
    root.verify_directly_issued_by(root)
    assert isinstance(root.public_key(), ec.EllipticCurvePublicKey)
    assert root.public_key().curve.name == "secp256r1"
    assert root.signature_hash_algorithm.name == "sha256"
    assert extension(root, x509.BasicConstraints).value.ca
    assert extension(root, x509.KeyUsage).value.key_cert_sign
    assert root.not_valid_before_utc == NOW
    assert years(root) == 20


def test_signing_ca_is_issued_by_root_and_cannot_issue_further_cas(pki):
    intermediate = pki.intermediate_cert
    intermediate.verify_directly_issued_by(pki.root_cert)
    constraints = extension(intermediate, x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    assert years(intermediate) == 10


def test_tsa_certificate_is_restricted_to_time_stamping_by_a_critical_eku(pki):
    tsa = pki.tsa_cert
    tsa.verify_directly_issued_by(pki.root_cert)
    eku = extension(tsa, x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    usage = extension(tsa, x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    assert years(tsa) == 10


def test_system_certificate_signs_but_cannot_issue_certificates(pki):
    system = pki.system_cert
    system.verify_directly_issued_by(pki.root_cert)
    usage = extension(system, x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    assert not extension(system, x509.BasicConstraints).value.ca
    assert years(system) == 10


def test_user_certificate_names_the_signer_by_printed_name_username_and_permanent_id(pki, user_cert):
    user_cert.verify_directly_issued_by(pki.intermediate_cert)
    subject = user_cert.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "山田 太郎"
    assert subject.get_attributes_for_oid(NameOID.USER_ID)[0].value == "t.yamada"
    assert subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == "0f6a9c1e-5b7d-4c2a-9e41-7d3f0b8a2c55"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == ORG
    assert years(user_cert) == 3


def test_user_certificate_may_sign_with_non_repudiation_and_has_no_eku(user_cert):
    usage = extension(user_cert, x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_cert_sign
    with pytest.raises(x509.ExtensionNotFound):
        extension(user_cert, x509.ExtendedKeyUsage)


def test_certificates_expiring_on_29_february_end_on_28_february():
    leap_day = datetime(2028, 2, 29, tzinfo=UTC)
    root = bootstrap_pki(ORG, leap_day).root_cert
    assert root.not_valid_after_utc == datetime(2048, 2, 29, tzinfo=UTC)
    user = issue_user_certificate(
        root, generate_private_key(), generate_private_key().public_key(),
        printed_name="A", username="a", user_id="1", org_name=ORG, now=leap_day,
    )
    assert user.not_valid_after_utc == datetime(2031, 2, 28, tzinfo=UTC)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        bootstrap_pki(ORG, datetime(2026, 4, 1, 9, 0))


@pytest.mark.req("11.300(c)")
def test_crl_lists_each_revoked_serial_with_its_revocation_time(pki, user_cert):
    revoked_at = NOW + timedelta(days=30)
    crl = build_crl(pki.intermediate_cert, pki.intermediate_key, [(user_cert.serial_number, revoked_at)],
                    NOW + timedelta(days=31), NOW + timedelta(days=38))
    assert crl.is_signature_valid(pki.intermediate_cert.public_key())
    assert crl.issuer == pki.intermediate_cert.subject
    assert crl.get_revoked_certificate_by_serial_number(user_cert.serial_number).revocation_date_utc == revoked_at
    assert crl.next_update_utc == NOW + timedelta(days=38)


def test_later_crls_have_higher_crl_numbers(pki):
    def number(crl):
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number

    first = build_crl(pki.root_cert, pki.root_key, [], NOW, NOW + timedelta(days=7))
    later = build_crl(pki.root_cert, pki.root_key, [], NOW + timedelta(hours=1), NOW + timedelta(days=7))
    assert number(later) > number(first)


@pytest.mark.req("11.30")
def test_openssl_verifies_a_user_certificate_through_the_signing_ca(tmp_path):
    now = datetime.now(UTC)  # openssl judges validity at the real current time
    current = bootstrap_pki(ORG, now)
    user = issue_user_certificate(
        current.intermediate_cert, current.intermediate_key, generate_private_key().public_key(),
        printed_name="Jane Doe", username="j.doe", user_id="u-1", org_name=ORG, now=now,
    )
    result = subprocess.run(
        ["openssl", "verify", "-CAfile", write_pem(tmp_path / "ca.pem", current.root_cert),
         "-untrusted", write_pem(tmp_path / "intermediate.pem", current.intermediate_cert),
         write_pem(tmp_path / "user.pem", user)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert ": OK" in result.stdout


@pytest.mark.req("11.300(c)")
def test_openssl_parses_the_crl_and_verifies_its_signature(pki, user_cert, tmp_path):
    crl = build_crl(pki.intermediate_cert, pki.intermediate_key, [(user_cert.serial_number, NOW)], NOW,
                    NOW + timedelta(days=7))
    result = subprocess.run(
        ["openssl", "crl", "-in", write_pem(tmp_path / "crl.pem", crl),
         "-CAfile", write_pem(tmp_path / "ca.pem", pki.intermediate_cert), "-noout", "-text"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "verify OK" in result.stderr + result.stdout
    assert f"{user_cert.serial_number:X}" in result.stdout.replace(":", "").upper()
