"""RFC 3161 time-stamps: the internal TSA and requests to an external TSA; verification is `edms.verifier`'s.

A time-stamp token is a CMS SignedData over a TSTInfo that names the hash of the stamped data and the
time. edms stamps the signature value of each CMS signature, which fixes the moment the signature
existed; revocation of the signer's certificate is then judged at that moment (21 CFR 11.300(c)).
Every token passes `openssl ts -verify`.
"""
from __future__ import annotations

import hashlib
import secrets
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from asn1crypto import cms as asn1_cms
from asn1crypto import core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from edms.crypto import tsa_encoding
from edms.timeutil import require_aware
from edms.verifier import timestamp as verifier_timestamp
from edms.verifier.errors import Invalid

_GRANTED = ("granted", "granted_with_mods")


class _TimeStampResp(core.Sequence):  # type: ignore[misc]  # asn1crypto ships no types: its classes are Any
    """RFC 3161 §2.4.2 TimeStampResp. asn1crypto 1.5 declares the token mandatory, but a TSA that
    refuses sends only the status, and that refusal must be readable."""

    _fields = [("status", tsp.PKIStatusInfo), ("time_stamp_token", asn1_cms.ContentInfo, {"optional": True})]


class TimestampError(Exception):
    """An external TSA could not be reached, refused, or answered something other than what was asked."""


@dataclass(frozen=True)
class TimestampVerification:
    ok: bool
    reason: str
    gen_time: datetime | None
    tsa_cert: x509.Certificate | None


def make_timestamp_response(
    tsa_key: ec.EllipticCurvePrivateKey,
    tsa_cert: x509.Certificate,
    chain: Sequence[x509.Certificate],
    *,
    message_imprint: bytes,
    serial: int,
    gen_time: datetime,
    nonce: int | None,
    policy_oid: str,
) -> bytes:
    """The internal TSA: a DER TimeStampResp (status granted) stamping the SHA-256 digest `message_imprint`.

    `chain` holds the certificates to include besides the TSA's own (normally none or the root). Written
    by `tsa_encoding`, byte for byte what `make_timestamp_response_reference` writes."""
    _imprint(message_imprint)  # the same refusal of a digest that is not SHA-256
    return tsa_encoding.timestamp_response(tsa_key, tsa_cert, chain, message_imprint=message_imprint, serial=serial,
                                           gen_time=require_aware(gen_time), nonce=nonce, policy_oid=policy_oid,
                                           algorithm=tsa_encoding.ecdsa_sha256())


def make_timestamp_response_reference(
    tsa_key: ec.EllipticCurvePrivateKey,
    tsa_cert: x509.Certificate,
    chain: Sequence[x509.Certificate],
    *,
    message_imprint: bytes,
    serial: int,
    gen_time: datetime,
    nonce: int | None,
    policy_oid: str,
) -> bytes:
    """`make_timestamp_response` through asn1crypto's object model: the reference its fast encoding is
    proved against (slow: tens of milliseconds a token)."""
    tsa = asn1_x509.Certificate.load(tsa_cert.public_bytes(serialization.Encoding.DER))
    tst_info = tsp.TSTInfo(
        {
            "version": "v1",
            "policy": policy_oid,
            "message_imprint": _imprint(message_imprint),
            "serial_number": serial,
            "gen_time": require_aware(gen_time),
            "nonce": nonce,
            "tsa": asn1_x509.GeneralName(name="directory_name", value=tsa.subject),
        }
    )
    signed_attrs = asn1_cms.CMSAttributes(
        [
            {"type": "content_type", "values": ["tst_info"]},
            {"type": "message_digest", "values": [hashlib.sha256(tst_info.dump()).digest()]},
            # RFC 5816: ESS signingCertificateV2 binds the token to the TSA certificate by its hash;
            # `openssl ts -verify` requires it.
            {
                "type": "signing_certificate_v2",
                "values": [
                    {
                        "certs": [
                            {
                                "cert_hash": hashlib.sha256(tsa.dump()).digest(),
                                "issuer_serial": {
                                    "issuer": [asn1_x509.GeneralName(name="directory_name", value=tsa.issuer)],
                                    "serial_number": tsa.serial_number,
                                },
                            }
                        ]
                    }
                ],
            },
        ]
    )
    # The signature covers the attributes' DER as a SET OF; asn1crypto sorts a SET OF's members as DER requires.
    signature = tsa_key.sign(signed_attrs.dump(), tsa_encoding.ecdsa_sha256())
    signed_data = asn1_cms.SignedData(
        {
            "version": "v3",  # RFC 5652 §5.1: v3 when the content type is not id-data
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "tst_info", "content": tst_info},
            "certificates": [
                tsa,
                *(asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in chain),
            ],
            "signer_infos": [
                {
                    "version": "v1",
                    "sid": asn1_cms.SignerIdentifier(
                        name="issuer_and_serial_number",
                        value={"issuer": tsa.issuer, "serial_number": tsa.serial_number},
                    ),
                    "digest_algorithm": {"algorithm": "sha256"},
                    "signed_attrs": signed_attrs,
                    "signature_algorithm": {"algorithm": "sha256_ecdsa"},
                    "signature": signature,
                }
            ],
        }
    )
    token = asn1_cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    response: bytes = _TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()
    return response


def build_timestamp_request(digest: bytes, nonce: int) -> bytes:
    """A DER TimeStampReq for a SHA-256 digest, asking the TSA to include its certificate."""
    request: bytes = tsp.TimeStampReq(
        {"version": "v1", "message_imprint": _imprint(digest), "nonce": nonce, "cert_req": True}
    ).dump()
    return request


def request_external_timestamp(url: str, data_digest: bytes, timeout: float) -> bytes:
    """Ask an external RFC 3161 TSA over HTTP(S) to stamp a SHA-256 digest; returns its TimeStampResp (DER).

    The reply must be granted and carry our nonce and imprint. Its signature and certificate are not
    judged here: `verify_timestamp` does that against the trust roots configured for that TSA.
    """
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"a time-stamping authority is reached over http or https, not {url!r}")
    nonce = secrets.randbits(64)
    request = urllib.request.Request(
        url,
        data=build_timestamp_request(data_digest, nonce),
        headers={"Content-Type": "application/timestamp-query"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310 (scheme checked above)
            response: bytes = reply.read()
    except OSError as exc:  # URLError, HTTPError and timeouts are all OSErrors
        raise TimestampError(f"the time-stamping authority at {url} did not answer: {exc}") from exc
    try:
        _, tst_info = _tst_info(token_from_response(response))
    except ValueError as exc:
        raise TimestampError(f"the time-stamping authority at {url} sent a malformed reply") from exc
    if tst_info["nonce"].native != nonce:
        raise TimestampError(f"the reply from {url} does not carry the nonce of the request")
    if not _imprint_matches(tst_info, data_digest):
        raise TimestampError(f"the reply from {url} stamps other data than was sent")
    return response


def token_from_response(tsr: bytes) -> bytes:
    """The TimeStampToken (a CMS ContentInfo, DER) inside a granted TimeStampResp."""
    try:
        response = _TimeStampResp.load(tsr, strict=True)
        status = response["status"].native
    except (ValueError, TypeError) as exc:
        raise TimestampError("not an RFC 3161 time-stamp response") from exc
    if status["status"] not in _GRANTED:
        detail = " ".join(status["status_string"] or []) or ", ".join(sorted(status["fail_info"] or []))
        raise TimestampError(f"the time-stamping authority refused: {status['status']} {detail}".strip())
    if not response["time_stamp_token"]:
        raise TimestampError("the time-stamp response grants but carries no token")
    token: bytes = response["time_stamp_token"].dump()
    return token


def verify_timestamp(
    tsr_or_token: bytes,
    data_digest: bytes,
    trust_roots: Sequence[x509.Certificate],
    *,
    crls: Sequence[x509.CertificateRevocationList] = (),
) -> TimestampVerification:
    """Does this TimeStampResp or bare token stamp the SHA-256 digest `data_digest`, signed by a TSA
    whose certificate chains to `trust_roots`, was valid and unrevoked at the stamped time, and is
    restricted to time-stamping? Judged by the verifier (`edms.verifier.timestamp`)."""
    try:
        stamp = verifier_timestamp.verify_timestamp(tsr_or_token, data_digest, trust_roots, crls=crls)
    except Invalid as exc:
        return TimestampVerification(False, str(exc), None, None)
    return TimestampVerification(True, "the time-stamp is valid", stamp.gen_time, stamp.tsa)


def _imprint(digest: bytes) -> dict[str, object]:
    if len(digest) != hashlib.sha256().digest_size:
        raise ValueError("a SHA-256 digest has 32 bytes")
    return {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest}


def _imprint_matches(tst_info: tsp.TSTInfo, data_digest: bytes) -> bool:
    imprint = tst_info["message_imprint"]
    matches: bool = imprint["hash_algorithm"]["algorithm"].native == "sha256" and imprint["hashed_message"].native == data_digest
    return matches


def _tst_info(token: bytes) -> tuple[bytes, tsp.TSTInfo]:
    """The encapsulated TSTInfo: its exact DER (what the token signs) and its parsed form."""
    content_info = asn1_cms.ContentInfo.load(token, strict=True)
    if content_info["content_type"].native != "signed_data":
        raise ValueError("a time-stamp token is a CMS SignedData")
    encapsulated = content_info["content"]["encap_content_info"]
    if encapsulated["content_type"].native != "tst_info":
        raise ValueError("the token does not contain a TSTInfo")
    content = encapsulated["content"].contents
    return content, tsp.TSTInfo.load(content, strict=True)
