"""CMS SignedData (RFC 5652): reading it with the DER walker and verifying one signer's signature over
its content, then the signer's chain (see `edms.verifier.chain`), all with `cryptography`."""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from edms.verifier import memo, one_pass
from edms.verifier.chain import verify_chain
from edms.verifier.cms_types import SignedData as SignedData  # re-exported: the types callers import from here
from edms.verifier.cms_types import SignerInfo as SignerInfo
from edms.verifier.der import (
    CONTEXT_0,
    CONTEXT_1,
    IMPLICIT_0,
    OCTETS,
    SEQUENCE,
    SET,
    Node,
    child,
    expect,
    integer,
    moment,
    oid,
    read_one,
)
from edms.verifier.errors import Invalid

SIGNED_DATA = "1.2.840.113549.1.7.2"
CONTENT_TYPE = "1.2.840.113549.1.9.3"
MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
SIGNING_TIME = "1.2.840.113549.1.9.5"
SHA256 = "2.16.840.1.101.3.4.2.1"
DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    SHA256: hashes.SHA256,
    "2.16.840.1.101.3.4.2.2": hashes.SHA384,
    "2.16.840.1.101.3.4.2.3": hashes.SHA512,
}
# The same digests by hashlib (the same bytes; cheaper to start for the short inputs a signature has).
_HASHLIB = {SHA256: hashlib.sha256, "2.16.840.1.101.3.4.2.2": hashlib.sha384, "2.16.840.1.101.3.4.2.3": hashlib.sha512}
# The signature schemes by hash OID, made once: they hold only the hash algorithm (stateless), and making one
# runs an import and abc checks inside `cryptography` (≈ 2 µs a verification, two a signature).
_ECDSA = {hash_oid: ec.ECDSA(algorithm()) for hash_oid, algorithm in DIGESTS.items()}
_RSA = {hash_oid: (padding.PKCS1v15(), algorithm()) for hash_oid, algorithm in DIGESTS.items()}
# Signature algorithm -> (key kind, hash OID or None when the digest algorithm field names it).
_SIGNATURE_ALGORITHMS: dict[str, tuple[str, str | None]] = {
    "1.2.840.10045.4.3.2": ("ec", "2.16.840.1.101.3.4.2.1"),
    "1.2.840.10045.4.3.3": ("ec", "2.16.840.1.101.3.4.2.2"),
    "1.2.840.10045.4.3.4": ("ec", "2.16.840.1.101.3.4.2.3"),
    "1.2.840.10045.2.1": ("ec", None),
    "1.2.840.113549.1.1.11": ("rsa", "2.16.840.1.101.3.4.2.1"),
    "1.2.840.113549.1.1.12": ("rsa", "2.16.840.1.101.3.4.2.2"),
    "1.2.840.113549.1.1.13": ("rsa", "2.16.840.1.101.3.4.2.3"),
    "1.2.840.113549.1.1.1": ("rsa", None),
}


def signed_data(der: bytes) -> SignedData:
    """The SignedData in a ContentInfo; anything else is Invalid("... not a well-formed CMS ...").

    Read once when the same bytes are asked for again within a shared run (`edms.verifier.memo`)."""
    return memo.recent("cms", der, _read_signed_data, der)


def _read_signed_data(der: bytes) -> SignedData:
    """Read in one pass (`edms.verifier.one_pass`) when the structure has the usual shape; anything else, damage
    included, by the reference reader, whose result or refusal is the verdict."""
    try:
        return one_pass.read_signed_data(der)
    except (one_pass.Unusual, Invalid, IndexError, ValueError):
        return _read_signed_data_reference(der)


def _read_signed_data_reference(der: bytes) -> SignedData:
    """The reference reader: a node-by-node DER walk (`edms.verifier.der`)."""
    try:
        content_info = expect(read_one(der), SEQUENCE, "ContentInfo").children()
        if len(content_info) != 2 or oid(content_info[0]) != SIGNED_DATA:
            raise Invalid("not a CMS SignedData")
        fields = expect(child(expect(content_info[1], CONTEXT_0, "CMS"), 0, "CMS"), SEQUENCE, "SignedData").children()
        integer(fields[0])  # version
        expect(fields[1], SET, "digest algorithms")
        encapsulated = expect(fields[2], SEQUENCE, "encapsulated content").children()
        content = None
        if len(encapsulated) > 1:
            content = expect(child(expect(encapsulated[1], CONTEXT_0, "content"), 0, "content"), OCTETS,
                             "content").content
        certificates: tuple[bytes, ...] = ()
        rest = fields[3:]
        if rest and rest[0].tag == CONTEXT_0:
            certificates = memo.shared("certificate set", rest[0].raw, one_pass.certificate_set)
            rest = rest[1:]
        if rest and rest[0].tag == CONTEXT_1:  # CRLs inside the signature: not used
            rest = rest[1:]
        signers = tuple(_signer_info(node) for node in expect(rest[0], SET, "signer infos").children())
        return SignedData(oid(encapsulated[0]), content, certificates, signers)
    except (Invalid, IndexError, ValueError) as exc:
        raise Invalid(f"the signature is not a well-formed CMS structure ({exc or type(exc).__name__})") from None


def _signer_info(node: Node) -> SignerInfo:
    fields = expect(node, SEQUENCE, "signer info").children()
    integer(fields[0])  # version
    sid = fields[1]
    issuer = serial = key_id = None
    if sid.tag == SEQUENCE:
        issuer_node, serial_node = sid.children()
        issuer, serial = issuer_node.raw, integer(serial_node)
    elif sid.tag == IMPLICIT_0:
        key_id = sid.content
    else:
        raise Invalid("malformed signer identifier")
    digest_oid = oid(fields[2].children()[0])
    position = 3
    signed_attrs = None
    attributes: dict[str, list[Node]] = {}
    if fields[position].tag == CONTEXT_0:
        signed_attrs = fields[position]
        for attribute in signed_attrs.children():
            kind, values = expect(attribute, SEQUENCE, "attribute").children()
            expect(values, SET, "attribute values")
            name = oid(kind)
            if name in attributes:
                raise Invalid(f"the signed attribute {name} appears twice")
            attributes[name] = values.children()
        position += 1
    signature_oid = oid(fields[position].children()[0])
    signature = expect(fields[position + 1], OCTETS, "signature").content
    return SignerInfo(issuer, serial, key_id, digest_oid, signed_attrs, attributes, signature_oid, signature)


def signature_value(cms_der: bytes) -> bytes:
    """The SignerInfo's signature octets: what edms time-stamps (as CAdES-T does)."""
    return signed_data(cms_der).signer.signature


def _certificate_issuer(der: bytes) -> bytes:
    return memo.shared("issuer", der, _read_certificate_issuer)


def _read_certificate_issuer(der: bytes) -> bytes:
    tbs = read_one(der).children()[0].children()
    if tbs[0].tag == CONTEXT_0:  # explicit version
        tbs = tbs[1:]
    return tbs[2].raw


def certificates(data: SignedData) -> list[x509.Certificate]:
    try:
        return [memo.certificate(der) for der in data.certificates]
    except ValueError:
        raise Invalid("a certificate in the signature is malformed") from None


def signer_certificate(data: SignedData) -> x509.Certificate:
    return signer_certificate_der(data)[1]


def signer_certificate_der(data: SignedData) -> tuple[bytes, x509.Certificate]:
    """The signer's certificate as the signature carries it (its DER bytes, never re-encoded) and parsed;
    found once per run for the same certificates and signer identifier (`edms.verifier.memo`)."""
    signer = data.signer
    return memo.keyed("signer certificate", (data.certificates, signer.key_id, signer.serial, signer.issuer),
                      lambda: _find_signer_certificate(data, signer))


def _find_signer_certificate(data: SignedData, signer: SignerInfo) -> tuple[bytes, x509.Certificate]:
    for der, cert in zip(data.certificates, certificates(data), strict=True):
        if signer.key_id is not None:
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
            except (x509.ExtensionNotFound, ValueError):
                continue
            if ski == signer.key_id:
                return der, cert
        elif cert.serial_number == signer.serial and _certificate_issuer(der) == signer.issuer:
            return der, cert
    raise Invalid("the signer's certificate is not included in the signature")


def signing_time(data: SignedData) -> datetime | None:
    """The signed signing-time attribute, when there is one (informational: the time-stamp is what counts)."""
    value = data.signer.single_value(SIGNING_TIME, "signing-time")
    return None if value is None else moment(value)


def digest(digest_oid: str, data: bytes) -> bytes:
    function = _HASHLIB.get(digest_oid)
    if function is None:
        raise Invalid(f"unsupported digest algorithm {digest_oid}")
    return function(data).digest()


def check_signature(data: SignedData, content: bytes | None) -> x509.Certificate:
    """The signer's signature over `content` (detached) or the encapsulated content; the signer's certificate."""
    return _check_signature(data, content)[1]


def _check_signature(data: SignedData, content: bytes | None) -> tuple[bytes, x509.Certificate]:
    signer = data.signer
    if content is None:
        if data.content is None:
            raise Invalid("the signature carries no content")
        content = data.content
    der, cert = signer_certificate_der(data)
    if signer.signed_attrs is None:
        raise Invalid("the signature has no signed attributes")
    content_type = signer.single_value(CONTENT_TYPE, "content-type")
    if content_type is None or oid(content_type) != data.content_type:
        raise Invalid("the signed content-type attribute is missing or does not match the content")
    signed_digest = signer.single_value(MESSAGE_DIGEST, "message-digest")
    if signed_digest is None:
        raise Invalid("the signature has no message-digest attribute")
    if expect(signed_digest, OCTETS, "message digest").content != digest(signer.digest_oid, content):
        raise Invalid("content does not match the signed message digest")
    # RFC 5652 §5.4: the signature covers the signed attributes encoded as a SET OF (tag 0x31), not as
    # the [0] IMPLICIT field they are stored in.
    _check_signature_value(cert, signer, b"\x31" + signer.signed_attrs.raw[1:])
    return der, cert


def _check_signature_value(cert: x509.Certificate, signer: SignerInfo, signed: bytes) -> None:
    if signer.signature_oid not in _SIGNATURE_ALGORITHMS:
        raise Invalid(f"unsupported signature algorithm {signer.signature_oid}")
    kind, hash_oid = _SIGNATURE_ALGORITHMS[signer.signature_oid]
    hash_oid = hash_oid or signer.digest_oid
    if hash_oid not in DIGESTS:
        raise Invalid(f"unsupported signature hash {hash_oid}")
    if memo.active() is None:
        _verify_value(cert, signer, signed, kind, hash_oid)
        return
    # The same verification (the same certificate, algorithms, signature and signed bytes) is not repeated within
    # a run: the offline verifier judges each signature twice (at its time-stamp, then in the long term).
    memo.recent("signature value", (memo.certificate_der(cert), signer.signature_oid, hash_oid, signer.signature, signed),
                _verify_value, cert, signer, signed, kind, hash_oid)


def _verify_value(cert: x509.Certificate, signer: SignerInfo, signed: bytes, kind: str, hash_oid: str) -> bool:
    """The signature value over `signed` with the certificate's key (True), or Invalid."""
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise Invalid("the signer's certificate holds a key this verifier cannot read") from None
    try:
        if kind == "ec" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signer.signature, signed, _ECDSA[hash_oid])
        elif kind == "rsa" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signer.signature, signed, *_RSA[hash_oid])
        else:
            raise Invalid("the signature algorithm does not fit the signer's key")
    except InvalidSignature:
        raise Invalid("the signature does not verify with the signer's certificate") from None
    return True


@dataclass(frozen=True)
class CmsResult:
    signer: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    signer_der: bytes  # the signer's certificate as the signature carries it


def verify_cms(cms_der: bytes, content: bytes | None, roots: Sequence[x509.Certificate], at: datetime, *,
               untrusted: Sequence[x509.Certificate] = (),
               crls: Sequence[x509.CertificateRevocationList] = ()) -> CmsResult:
    """A SignedData with one signer over `content` (detached) or its own content, by a certificate chaining
    to one of `roots` (through its embedded certificates or `untrusted`), valid and unrevoked at `at`."""
    data = signed_data(cms_der)
    try:
        der, cert = _check_signature(data, content)
        chain = verify_chain(cert, [*untrusted, *certificates(data)], roots, crls, at)
    except Invalid:
        raise
    except (ValueError, UnsupportedAlgorithm):  # cryptography reads certificates lazily: damage shows here
        raise Invalid("a certificate in the signature is malformed") from None
    return CmsResult(cert, chain, der)
