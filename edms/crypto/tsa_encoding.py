"""The internal TSA's responses written straight as DER: the same bytes asn1crypto writes
(`tsa.make_timestamp_response_reference`, kept to prove it), in a fraction of the time.

Building the token through asn1crypto's object model costs tens of milliseconds (most of the signing
ceremony once the deliberate password KDF is set aside), although only a few fields change from one
token to the next. Here everything that depends only on the TSA's certificate (its name, the ESS
signing-certificate attribute, the signer identifier, the certificates carried) is encoded once by
asn1crypto and kept; the fields of each token (imprint, serial, time, nonce, policy, the signature) are
written with the few DER rules they need. The format does not change: tests compare both encoders byte
for byte on many inputs.
"""
from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from asn1crypto import algos, core
from asn1crypto import cms as asn1_cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

_SHA256 = algos.DigestAlgorithm({"algorithm": "sha256"}).dump()
_ECDSA_SHA256 = algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}).dump()
_CONTENT_TYPE_ATTR = asn1_cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}).dump()
_DIGEST_ATTR_PREFIX = asn1_cms.CMSAttribute({"type": "message_digest", "values": [bytes(32)]}).dump()[:-32]
_TST_INFO_OID = core.ObjectIdentifier("1.2.840.113549.1.9.16.1.4").dump()
_SIGNED_DATA_OID = core.ObjectIdentifier("1.2.840.113549.1.7.2").dump()
_GRANTED = b"\x30\x03\x02\x01\x00"  # PKIStatusInfo { status granted }
_INT_1, _INT_3 = b"\x02\x01\x01", b"\x02\x01\x03"


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes((size,))
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(octets),)) + octets


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + _length(len(content)) + content


def _integer(value: int) -> bytes:
    size = ((value if value >= 0 else value + 1).bit_length() + 8) // 8
    return _tlv(0x02, value.to_bytes(size, "big", signed=True))


def _generalized_time(value: datetime) -> bytes:
    value = value.astimezone(UTC)
    fraction = "." + str(value.microsecond).zfill(6).rstrip("0") if value.microsecond else ""
    return _tlv(0x18, (value.strftime("%Y%m%d%H%M%S") + fraction + "Z").encode("ascii"))


@lru_cache(maxsize=64)
def _oid(dotted: str) -> bytes:
    encoded: bytes = core.ObjectIdentifier(dotted).dump()
    return encoded


@dataclass(frozen=True)
class _Signer:
    """What every token of one TSA certificate (and chain) repeats, encoded once."""

    tsa_name: bytes  # [0] EXPLICIT GeneralName (directoryName): the TSTInfo's tsa field
    ess_attr: bytes  # the signing-certificate-v2 attribute
    sid: bytes  # issuerAndSerialNumber
    certificates: bytes  # [0] IMPLICIT SET OF Certificate, sorted as DER requires


_signers: dict[tuple[bytes, tuple[bytes, ...]], _Signer] = {}
_signers_lock = threading.Lock()


def _signer(tsa_cert: x509.Certificate, chain: Sequence[x509.Certificate]) -> _Signer:
    der = tsa_cert.public_bytes(serialization.Encoding.DER)
    key = (der, tuple(c.public_bytes(serialization.Encoding.DER) for c in chain))
    with _signers_lock:
        known = _signers.get(key)
    if known is not None:
        return known
    tsa = asn1_x509.Certificate.load(der)
    ess = asn1_cms.CMSAttribute({
        "type": "signing_certificate_v2",
        "values": [{"certs": [{
            "cert_hash": hashlib.sha256(der).digest(),
            "issuer_serial": {"issuer": [asn1_x509.GeneralName(name="directory_name", value=tsa.issuer)],
                              "serial_number": tsa.serial_number},
        }]}],
    }).dump()
    sid = asn1_cms.SignerIdentifier(name="issuer_and_serial_number",
                                    value={"issuer": tsa.issuer, "serial_number": tsa.serial_number}).dump()
    name = asn1_x509.GeneralName(name="directory_name", value=tsa.subject).dump()
    known = _Signer(_tlv(0xA0, name), ess, sid, _tlv(0xA0, b"".join(sorted((der, *key[1])))))
    with _signers_lock:
        if len(_signers) > 16:
            _signers.clear()
        _signers[key] = known
    return known


def timestamp_response(tsa_key: ec.EllipticCurvePrivateKey, tsa_cert: x509.Certificate,
                       chain: Sequence[x509.Certificate], *, message_imprint: bytes, serial: int, gen_time: datetime,
                       nonce: int | None, policy_oid: str, algorithm: ec.ECDSA) -> bytes:
    """A granted TimeStampResp, DER, exactly as `tsa.make_timestamp_response_reference` encodes it."""
    signer = _signer(tsa_cert, chain)
    imprint = _tlv(0x30, _SHA256 + _tlv(0x04, message_imprint))
    tst_info = _tlv(0x30, b"".join((
        _INT_1, _oid(policy_oid), imprint, _integer(serial), _generalized_time(gen_time),
        b"" if nonce is None else _integer(nonce), signer.tsa_name,
    )))
    digest_attr = _DIGEST_ATTR_PREFIX + hashlib.sha256(tst_info).digest()
    attributes = b"".join(sorted((_CONTENT_TYPE_ATTR, digest_attr, signer.ess_attr)))
    signature = tsa_key.sign(_tlv(0x31, attributes), algorithm)
    signer_info = _tlv(0x30, b"".join((
        _INT_1, signer.sid, _SHA256, _tlv(0xA0, attributes), _ECDSA_SHA256, _tlv(0x04, signature),
    )))
    signed_data = _tlv(0x30, b"".join((
        _INT_3, _tlv(0x31, _SHA256),
        _tlv(0x30, _TST_INFO_OID + _tlv(0xA0, _tlv(0x04, tst_info))),
        signer.certificates, _tlv(0x31, signer_info),
    )))
    token = _tlv(0x30, _SIGNED_DATA_OID + _tlv(0xA0, signed_data))
    return _tlv(0x30, _GRANTED + token)


def ecdsa_sha256() -> ec.ECDSA:
    """The TSA's signature: ECDSA with SHA-256, its nonce derived from key and message (RFC 6979)."""
    return ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
