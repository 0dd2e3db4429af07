"""The organisation's PKI: root CA, signing CA, TSA, system and user certificates, CRLs.

ECDSA P-256 with SHA-256 throughout. Every function takes its keys and the current time explicitly,
so certificates are reproducible in tests and nothing here reads a clock or holds state.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from edms.timeutil import require_aware

ROOT_YEARS = 20
INTERMEDIATE_YEARS = 10
TSA_YEARS = 10
SYSTEM_YEARS = 10
USER_YEARS = 3

_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)
# content_commitment is X.509's nonRepudiation bit.
_SIGNER_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=True,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


@dataclass(frozen=True)
class PkiMaterial:
    """Everything `bootstrap_pki` creates; the caller stores the keys encrypted (see keywrap)."""

    root_key: ec.EllipticCurvePrivateKey
    root_cert: x509.Certificate
    intermediate_key: ec.EllipticCurvePrivateKey
    intermediate_cert: x509.Certificate
    tsa_key: ec.EllipticCurvePrivateKey
    tsa_cert: x509.Certificate
    system_key: ec.EllipticCurvePrivateKey
    system_cert: x509.Certificate


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def create_root_ca(key: ec.EllipticCurvePrivateKey, *, org_name: str, now: datetime,
                   generation: str = "") -> x509.Certificate:
    """The self-signed trust anchor; it issues the signing CA, the TSA and the system certificate.

    `generation` tells apart the roots of a rollover (and the CAs under them): a verifier matches a CRL
    to its issuer by name, so two roots must not share one."""
    subject = _org_name(_generation(f"{org_name} Root CA", generation), org_name)
    return _issue(
        issuer=subject,
        issuer_key=key,
        subject=subject,
        public_key=key.public_key(),
        now=now,
        years=ROOT_YEARS,
        extensions=[
            # pathlen 1: the root may issue one level of CA (the signing CA) and no deeper.
            (x509.BasicConstraints(ca=True, path_length=1), True),
            (_CA_KEY_USAGE, True),
        ],
    )


def create_intermediate_ca(
    root_cert: x509.Certificate,
    root_key: ec.EllipticCurvePrivateKey,
    public_key: ec.EllipticCurvePublicKey,
    *,
    org_name: str,
    now: datetime,
    generation: str = "",
) -> x509.Certificate:
    """The signing-certificate issuer: issues user certificates only, never another CA (pathlen 0)."""
    return _issue(
        issuer=root_cert.subject,
        issuer_key=root_key,
        subject=_org_name(_generation(f"{org_name} Signing CA", generation), org_name),
        public_key=public_key,
        now=now,
        years=INTERMEDIATE_YEARS,
        extensions=[(x509.BasicConstraints(ca=True, path_length=0), True), (_CA_KEY_USAGE, True)],
    )


def create_tsa_certificate(
    root_cert: x509.Certificate,
    root_key: ec.EllipticCurvePrivateKey,
    public_key: ec.EllipticCurvePublicKey,
    *,
    org_name: str,
    now: datetime,
) -> x509.Certificate:
    """RFC 3161 §2.3: the TSA certificate carries exactly one, critical, extendedKeyUsage: timeStamping."""
    return _issue(
        issuer=root_cert.subject,
        issuer_key=root_key,
        subject=_org_name(f"{org_name} Time-Stamping Authority", org_name),
        public_key=public_key,
        now=now,
        years=TSA_YEARS,
        extensions=[
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (_SIGNER_KEY_USAGE, True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True),
        ],
    )


def create_system_certificate(
    root_cert: x509.Certificate,
    root_key: ec.EllipticCurvePrivateKey,
    public_key: ec.EllipticCurvePublicKey,
    *,
    org_name: str,
    now: datetime,
) -> x509.Certificate:
    """The system's own signer: audit-chain checkpoints and export packages."""
    return _issue(
        issuer=root_cert.subject,
        issuer_key=root_key,
        subject=_org_name(f"{org_name} edms System", org_name),
        public_key=public_key,
        now=now,
        years=SYSTEM_YEARS,
        extensions=[(x509.BasicConstraints(ca=False, path_length=None), True), (_SIGNER_KEY_USAGE, True)],
    )


def issue_user_certificate(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    public_key: ec.EllipticCurvePublicKey,
    *,
    printed_name: str,
    username: str,
    user_id: str,
    org_name: str,
    now: datetime,
) -> x509.Certificate:
    """A person's signing certificate, issued by the signing CA.

    The subject identifies the signer three ways: the printed name shown on signed records (CN), the
    login name (UID) and the permanent user id (serialNumber, never reissued: 11.100(a)). There is no
    extendedKeyUsage, so `openssl cms -verify` accepts it under its default purpose.
    """
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org_name),
            x509.NameAttribute(NameOID.COMMON_NAME, printed_name),
            x509.NameAttribute(NameOID.USER_ID, username),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, user_id),
        ]
    )
    return _issue(
        issuer=ca_cert.subject,
        issuer_key=ca_key,
        subject=subject,
        public_key=public_key,
        now=now,
        years=USER_YEARS,
        extensions=[(x509.BasicConstraints(ca=False, path_length=None), True), (_SIGNER_KEY_USAGE, True)],
    )


def build_crl(
    issuer_cert: x509.Certificate,
    issuer_key: ec.EllipticCurvePrivateKey,
    revoked: Sequence[tuple[int, datetime]],
    this_update: datetime,
    next_update: datetime,
) -> x509.CertificateRevocationList:
    """A CRL listing (serial number, revocation time) pairs, signed by the certificate's issuer."""
    this_update = require_aware(this_update)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer_cert.subject)
        .last_update(this_update)
        .next_update(require_aware(next_update))
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        # RFC 5280 requires a monotonically increasing CRL number; the issue time in seconds is one
        # without keeping a counter.
        .add_extension(x509.CRLNumber(int(this_update.timestamp())), critical=False)
    )
    for serial, revoked_at in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(require_aware(revoked_at))
            .build()
        )
    return builder.sign(issuer_key, hashes.SHA256())


def bootstrap_pki(org_name: str, now: datetime,
                  keys: Sequence[ec.EllipticCurvePrivateKey] = ()) -> PkiMaterial:
    """Create the organisation's whole PKI at once: root, signing CA, TSA and system, with `keys` in that
    order (made where they are kept, e.g. inside an HSM) or fresh keys in memory."""
    root_key, intermediate_key, tsa_key, system_key = keys or tuple(generate_private_key() for _ in range(4))
    root_cert = create_root_ca(root_key, org_name=org_name, now=now)
    return PkiMaterial(
        root_key=root_key,
        root_cert=root_cert,
        intermediate_key=intermediate_key,
        intermediate_cert=create_intermediate_ca(
            root_cert, root_key, intermediate_key.public_key(), org_name=org_name, now=now
        ),
        tsa_key=tsa_key,
        tsa_cert=create_tsa_certificate(root_cert, root_key, tsa_key.public_key(), org_name=org_name, now=now),
        system_key=system_key,
        system_cert=create_system_certificate(
            root_cert, root_key, system_key.public_key(), org_name=org_name, now=now
        ),
    )


def _generation(common_name: str, generation: str) -> str:
    return f"{common_name} {generation}" if generation else common_name


def _org_name(common_name: str, org_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org_name),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _issue(
    *,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime,
    years: int,
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    not_before = require_aware(now)
    builder = (
        x509.CertificateBuilder()
        .issuer_name(issuer)
        .subject_name(subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(_years_after(not_before, years))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


def _years_after(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February in a year that has none
        return moment.replace(year=moment.year + years, day=28)
