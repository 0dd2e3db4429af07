"""Detached CMS (RFC 5652) signatures over exact bytes: made here, verified by `edms.verifier`.

A signature is a DER SignedData whose signed attributes hold the SHA-256 of the signed bytes, so it
binds to those bytes and nothing else (21 CFR 11.70), and `openssl cms -verify` checks it offline.
Verification is the offline verifier's, independent of the signing library: digest, signature, chain to
a trusted root, validity and revocation, all judged at one moment; this module only shapes its verdict.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7

from edms.timeutil import require_aware, utc_now
from edms.verifier import cms as verifier_cms
from edms.verifier.errors import Invalid


@dataclass(frozen=True)
class CmsVerification:
    """The verdict on one signature. `signer_cert` and `signing_time` are filled whenever they could be read."""

    ok: bool
    reason: str
    signer_cert: x509.Certificate | None
    chain: tuple[x509.Certificate, ...]
    signing_time: datetime | None


def sign_detached(
    key: ec.EllipticCurvePrivateKey,
    cert: x509.Certificate,
    data: bytes,
    extra_certs: Sequence[x509.Certificate] = (),
) -> bytes:
    """Detached CMS SignedData (DER) over exactly `data`: SHA-256, signed attributes (content type,
    message digest, signing time), the signer's certificate and `extra_certs` (its chain) included."""
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(cert, key, hashes.SHA256())
    for extra in extra_certs:
        builder = builder.add_certificate(extra)
    return builder.sign(
        serialization.Encoding.DER,
        [
            pkcs7.PKCS7Options.DetachedSignature,
            pkcs7.PKCS7Options.Binary,  # sign the bytes as given: no MIME canonicalisation of line ends
            pkcs7.PKCS7Options.NoCapabilities,  # the S/MIME capabilities attribute means nothing here
        ],
    )


def signature_value(cms_der: bytes) -> bytes:
    """The SignerInfo's signature octets: what an RFC 3161 timestamp of this signature is taken over.

    Raises ValueError for anything but a SignedData with one signer (as does `signer_certificate`)."""
    return verifier_cms.signature_value(cms_der)


def signer_certificate(cms_der: bytes) -> x509.Certificate:
    return verifier_cms.signer_certificate(verifier_cms.signed_data(cms_der))


def verify_detached(
    cms_der: bytes,
    data: bytes,
    trust_roots: Sequence[x509.Certificate],
    *,
    crls: Sequence[x509.CertificateRevocationList] = (),
    at: datetime | None = None,
) -> CmsVerification:
    """Is `cms_der` a valid signature over exactly `data` by a certificate chaining to `trust_roots`?

    Validity and revocation are judged at `at` (default: now) by the verifier (`edms.verifier`), with its
    CRL rule. Pass the time of a verified RFC 3161 timestamp of the signature: a certificate revoked after
    that moment still verifies, one revoked at or before it does not (21 CFR 11.300(c)).
    """
    moment = utc_now() if at is None else require_aware(at)
    signer_cert: x509.Certificate | None = None
    signing_time: datetime | None = None
    try:
        signed = verifier_cms.signed_data(cms_der)
        signer_cert = verifier_cms.signer_certificate(signed)
        signing_time = verifier_cms.signing_time(signed)
        result = verifier_cms.verify_cms(cms_der, data, trust_roots, moment, crls=crls)
    except Invalid as exc:
        return CmsVerification(False, str(exc), signer_cert, (), signing_time)
    return CmsVerification(
        True, "the signature is valid and its certificate chains to a trusted root", result.signer, result.chain,
        signing_time,
    )
