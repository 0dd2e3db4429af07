"""Detached CMS (RFC 5652) signatures over exact bytes, and their verification.

A signature is a DER SignedData whose signed attributes hold the SHA-256 of the signed bytes, so it
binds to those bytes and nothing else (21 CFR 11.70), and `openssl cms -verify` checks it offline.
Verification is done here independently of the signing library: digest, signature, chain to a trusted
root, validity and revocation, all judged at one moment.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from asn1crypto import algos, core
from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from edms.timeutil import require_aware, utc_now

# Digests accepted in signatures we verify (our own use SHA-256; external TSAs may use the others).
_DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_MAX_CHAIN = 8

_Extension = TypeVar("_Extension", bound=x509.ExtensionType)


@dataclass(frozen=True)
class CmsVerification:
    """The verdict on one signature. `signer_cert` and `signing_time` are filled whenever they could be read."""

    ok: bool
    reason: str
    signer_cert: x509.Certificate | None
    chain: tuple[x509.Certificate, ...]
    signing_time: datetime | None


class _Invalid(ValueError):
    """Carries the human-readable reason a signature fails."""


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
    return _single_signer_info(_load_signed_data(cms_der))["signature"].native


def signer_certificate(cms_der: bytes) -> x509.Certificate:
    signed_data = _load_signed_data(cms_der)
    return _signer_certificate(signed_data, _single_signer_info(signed_data))


def verify_detached(
    cms_der: bytes,
    data: bytes,
    trust_roots: Sequence[x509.Certificate],
    *,
    crls: Sequence[x509.CertificateRevocationList] = (),
    at: datetime | None = None,
) -> CmsVerification:
    """Is `cms_der` a valid signature over exactly `data` by a certificate chaining to `trust_roots`?

    Validity and revocation are judged at `at` (default: now). Pass the time of a verified RFC 3161
    timestamp of the signature: a certificate revoked after that moment still verifies, one revoked at
    or before it does not (21 CFR 11.300(c)). `crls` are matched to each issuer by name and must be
    signed by it.
    """
    moment = utc_now() if at is None else require_aware(at)
    signer_cert: x509.Certificate | None = None
    signing_time: datetime | None = None
    chain: tuple[x509.Certificate, ...] = ()
    try:
        signed_data = _load_signed_data(cms_der)
        signer_info = _single_signer_info(signed_data)
        signer_cert = _signer_certificate(signed_data, signer_info)
        if not signer_info["signed_attrs"]:
            raise _Invalid("the signature has no signed attributes")
        time_attribute = _signed_attribute(signer_info, "signing_time")
        signing_time = None if time_attribute is None else time_attribute.native
        _check_content_type(signed_data, signer_info)
        _check_message_digest(signer_info, data)
        _check_signature(signer_info, signer_cert)
        chain = tuple(_build_chain(signer_cert, _embedded_certificates(signed_data), trust_roots))
        _check_chain(chain, moment)
        _check_revocation(chain, crls, moment)
    except _Invalid as exc:
        return CmsVerification(False, str(exc), signer_cert, chain, signing_time)
    return CmsVerification(
        True, "the signature is valid and its certificate chains to a trusted root", signer_cert, chain, signing_time
    )


def _load_signed_data(cms_der: bytes) -> asn1_cms.SignedData:
    try:
        content_info = asn1_cms.ContentInfo.load(cms_der, strict=True)
        content_type = content_info["content_type"].native
        signed_data = content_info["content"]
        _ = signed_data.native  # parse everything now, so malformed input fails here and not halfway
    except (ValueError, TypeError) as exc:
        raise _Invalid("the signature is not a well-formed CMS structure") from exc
    if content_type != "signed_data":
        raise _Invalid(f"the CMS structure is {content_type}, not SignedData")
    return signed_data


def _single_signer_info(signed_data: asn1_cms.SignedData) -> asn1_cms.SignerInfo:
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise _Invalid(f"expected exactly one signer, found {len(signer_infos)}")
    return signer_infos[0]


def _signer_certificate(signed_data: asn1_cms.SignedData, signer_info: asn1_cms.SignerInfo) -> x509.Certificate:
    sid = signer_info["sid"]
    for choice in signed_data["certificates"]:
        if choice.name != "certificate":
            continue
        candidate = choice.chosen
        if sid.name == "issuer_and_serial_number":
            matches = (
                candidate.issuer == sid.chosen["issuer"]
                and candidate.serial_number == sid.chosen["serial_number"].native
            )
        else:
            matches = candidate.key_identifier == sid.native
        if matches:
            return x509.load_der_x509_certificate(candidate.dump())
    raise _Invalid("the signer's certificate is not included in the signature")


def _embedded_certificates(signed_data: asn1_cms.SignedData) -> list[x509.Certificate]:
    return [
        x509.load_der_x509_certificate(choice.chosen.dump())
        for choice in signed_data["certificates"]
        if choice.name == "certificate"
    ]


def _signed_attribute(signer_info: asn1_cms.SignerInfo, name: str) -> core.Asn1Value | None:
    values = [attribute["values"] for attribute in signer_info["signed_attrs"] if attribute["type"].native == name]
    if not values:
        return None
    if len(values) != 1 or len(values[0]) != 1:
        raise _Invalid(f"the signed attribute {name} must appear once with one value")
    return values[0][0]


def _check_content_type(signed_data: asn1_cms.SignedData, signer_info: asn1_cms.SignerInfo) -> None:
    content_type = _signed_attribute(signer_info, "content_type")
    if content_type is None or content_type.native != signed_data["encap_content_info"]["content_type"].native:
        raise _Invalid("the signed content-type attribute is missing or does not match the content")


def _check_message_digest(signer_info: asn1_cms.SignerInfo, data: bytes) -> None:
    digest_name = signer_info["digest_algorithm"]["algorithm"].native
    if digest_name not in _DIGESTS:
        raise _Invalid(f"unsupported digest algorithm {digest_name}")
    signed_digest = _signed_attribute(signer_info, "message_digest")
    if signed_digest is None:
        raise _Invalid("the signature has no message-digest attribute")
    if signed_digest.native != hashlib.new(digest_name, data).digest():
        raise _Invalid("content does not match the signed message digest")


def _check_signature(signer_info: asn1_cms.SignerInfo, signer_cert: x509.Certificate) -> None:
    # RFC 5652 §5.4: the signature covers the DER of the signed attributes as a SET OF (tag 0x31),
    # not as the [0] IMPLICIT field they are stored in.
    signed_bytes = b"\x31" + signer_info["signed_attrs"].dump()[1:]
    algorithm: algos.SignedDigestAlgorithm = signer_info["signature_algorithm"]
    try:
        hash_name = algorithm.hash_algo
    except ValueError:  # a bare "rsa" or "ecdsa" identifier: the digest algorithm field names the hash
        hash_name = signer_info["digest_algorithm"]["algorithm"].native
    if hash_name not in _DIGESTS:
        raise _Invalid(f"unsupported signature hash {hash_name}")
    digest = _DIGESTS[hash_name]()
    public_key = signer_cert.public_key()
    signature = signer_info["signature"].native
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey) and algorithm.signature_algo == "ecdsa":
            public_key.verify(signature, signed_bytes, ec.ECDSA(digest))
        elif isinstance(public_key, rsa.RSAPublicKey) and algorithm.signature_algo == "rsassa_pkcs1v15":
            public_key.verify(signature, signed_bytes, padding.PKCS1v15(), digest)
        else:
            raise _Invalid(f"unsupported signature algorithm {algorithm.signature_algo} for this key")
    except InvalidSignature:
        raise _Invalid("the signature does not verify with the signer's certificate") from None


def _build_chain(
    leaf: x509.Certificate, untrusted: Sequence[x509.Certificate], trust_roots: Sequence[x509.Certificate]
) -> list[x509.Certificate]:
    chain = [leaf]
    while chain[-1] not in trust_roots:
        issuer = _issuer_of(chain[-1], [*trust_roots, *untrusted])
        # A self-signed certificate that is not a trust root finds itself: that chain ends untrusted.
        if issuer is None or issuer in chain or len(chain) >= _MAX_CHAIN:
            raise _Invalid(f"the certificate of {_name(chain[-1])} does not chain to a trusted root")
        chain.append(issuer)
    return chain


def _issuer_of(cert: x509.Certificate, candidates: Sequence[x509.Certificate]) -> x509.Certificate | None:
    for candidate in candidates:
        try:
            cert.verify_directly_issued_by(candidate)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return candidate
    return None


def _check_chain(chain: Sequence[x509.Certificate], moment: datetime) -> None:
    for cert in chain:
        if not cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc:
            raise _Invalid(
                f"the certificate of {_name(cert)} is not valid on {_utc(moment)}"
                f" (valid {_utc(cert.not_valid_before_utc)} to {_utc(cert.not_valid_after_utc)})"
            )
    leaf_usage = _extension(chain[0], x509.KeyUsage)
    if leaf_usage is not None and not (leaf_usage.digital_signature or leaf_usage.content_commitment):
        raise _Invalid(f"the certificate of {_name(chain[0])} may not sign")
    for depth, issuer in enumerate(chain[1:]):
        constraints = _extension(issuer, x509.BasicConstraints)
        usage = _extension(issuer, x509.KeyUsage)
        if constraints is None or not constraints.ca or (usage is not None and not usage.key_cert_sign):
            raise _Invalid(f"the certificate of {_name(issuer)} is not a CA certificate")
        # `depth` counts the CA certificates below this issuer in the chain.
        if constraints.path_length is not None and depth > constraints.path_length:
            raise _Invalid(f"the chain below {_name(issuer)} exceeds its path length")


def _check_revocation(
    chain: Sequence[x509.Certificate], crls: Sequence[x509.CertificateRevocationList], moment: datetime
) -> None:
    for position, (cert, issuer) in enumerate(zip(chain, chain[1:])):
        for crl in crls:
            if crl.issuer != issuer.subject:
                continue
            if not crl.is_signature_valid(issuer.public_key()):
                raise _Invalid(f"the CRL for {_name(issuer)} is not signed by it")
            entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
            if entry is not None and entry.revocation_date_utc <= moment:
                whose = "signer certificate" if position == 0 else f"CA certificate of {_name(cert)}"
                raise _Invalid(f"{whose} revoked on {_utc(entry.revocation_date_utc)}")


def _extension(cert: x509.Certificate, kind: type[_Extension]) -> _Extension | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _name(cert: x509.Certificate) -> str:
    common_names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(common_names[0].value) if common_names else cert.subject.rfc4514_string()


def _utc(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"
