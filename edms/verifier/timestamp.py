"""RFC 3161 time-stamps: a token over a SHA-256 digest, by a TSA certificate chaining to a trusted root,
valid and unrevoked at the stamped time, restricted to time-stamping and named by the token (RFC 5816)."""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from edms.verifier import memo, one_pass
from edms.verifier.chain import extension
from edms.verifier.cms import (
    DIGESTS,
    SHA256,
    SignerInfo,
    digest,
    signed_data,
    verify_cms,
)
from edms.verifier.der import (
    BIT_STRING,
    INTEGER,
    OCTETS,
    OID,
    SEQUENCE,
    UTF8_STRING,
    Node,
    _dotted,
    child,
    expect,
    integer,
    moment,
    oid,
    read_one,
)
from edms.verifier.errors import Invalid

TST_INFO = "1.2.840.113549.1.9.16.1.4"
_SIGNING_CERTIFICATE = "1.2.840.113549.1.9.16.2.12"
_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"
_SHA1 = "1.3.14.3.2.26"
_STATUS = ("granted", "granted_with_mods", "rejection", "waiting", "revocation_warning", "revocation_notification")
# PKIFailureInfo bits (RFC 3161 §2.4.2), by position.
_FAIL_INFO = {0: "bad_alg", 2: "bad_request", 5: "bad_data_format", 14: "time_not_available",
              15: "unaccepted_policy", 16: "unaccepted_extension", 17: "add_info_not_available", 25: "system_failure"}


@dataclass(frozen=True)
class Stamp:
    gen_time: datetime
    tsa: x509.Certificate


def token_of(tsr_or_token: bytes) -> bytes:
    """The TimeStampToken in a TimeStampResp (status granted), or the token itself: read in one pass when the
    response has the usual shape; anything else, damage and refusals included, by the reference reader."""
    try:
        return _token_of_one_pass(tsr_or_token)
    except (one_pass.Unusual, Invalid, IndexError, ValueError):
        return _token_of_reference(tsr_or_token)


def _token_of_one_pass(data: bytes) -> bytes:
    """`_token_of_reference` for a token or a granted response (the same validation of the levels read), or Unusual."""
    top = one_pass.elements(data, 0, len(data))
    if len(top) != 4 or top[0] != SEQUENCE:
        raise one_pass.Unusual
    parts = one_pass.elements(data, top[2], top[3])
    if parts and parts[0] == OID:
        return data
    if len(parts) < 8 or parts[0] != SEQUENCE:
        raise one_pass.Unusual
    status = one_pass.elements(data, parts[2], parts[3])
    if not status or status[0] != INTEGER or int.from_bytes(data[status[2]:status[3]], "big", signed=True) not in (0, 1):
        raise one_pass.Unusual
    return data[parts[5]:parts[7]]


def _token_of_reference(tsr_or_token: bytes) -> bytes:
    top = expect(read_one(tsr_or_token), SEQUENCE, "time-stamp").children()
    # A token (ContentInfo) begins with its content-type OID; a TimeStampResp with its status SEQUENCE.
    if top and top[0].tag == OID:
        return tsr_or_token
    if not top:
        raise Invalid("not an RFC 3161 time-stamp response or token")
    status = expect(top[0], SEQUENCE, "time-stamp status").children()
    if not status:
        raise Invalid("malformed time-stamp status")
    code = integer(status[0])
    if code not in (0, 1):
        raise Invalid(f"the time-stamping authority refused: {_refusal(code, status[1:])}".strip())
    if len(top) < 2:
        raise Invalid("the time-stamp response grants but carries no token")
    return top[1].raw


def _refusal(code: int, rest: list[Node]) -> str:
    name = _STATUS[code] if 0 <= code < len(_STATUS) else f"status {code}"
    texts: list[str] = []
    failures: list[str] = []
    for node in rest:
        if node.tag == SEQUENCE:
            texts = [item.content.decode("utf-8", "replace") for item in node.children() if item.tag == UTF8_STRING]
        elif node.tag == BIT_STRING and node.content:
            bits = int.from_bytes(node.content[1:], "big") >> node.content[0]
            width = (len(node.content) - 1) * 8 - node.content[0]
            failures = sorted(_FAIL_INFO.get(position, f"bit {position}") for position in range(width)
                              if bits >> (width - 1 - position) & 1)
    return f"{name} {' '.join(texts) or ', '.join(failures)}"


def verify_timestamp(tsr_or_token: bytes, data_digest: bytes, roots: Sequence[x509.Certificate], *,
                     untrusted: Sequence[x509.Certificate] = (),
                     crls: Sequence[x509.CertificateRevocationList] = ()) -> Stamp:
    """Does this TimeStampResp or bare token stamp the SHA-256 digest `data_digest`? The stamp, or Invalid."""
    try:
        token = token_of(tsr_or_token)
    except Invalid as exc:
        if str(exc).startswith(("the time-stamping authority", "not an RFC")):
            raise
        raise Invalid(f"not an RFC 3161 time-stamp response or token ({exc})") from None
    data = signed_data(token)
    if data.content_type != TST_INFO or data.content is None:
        raise Invalid("the token does not contain a TSTInfo")
    gen_time = _stamped_time(data.content, data_digest)
    try:
        result = verify_cms(token, None, roots, gen_time, untrusted=untrusted, crls=crls)
    except Invalid as exc:
        raise Invalid(f"time-stamp token: {exc}") from None
    if not memo.shared("tsa usage", result.signer_der, lambda _der: _time_stamping_only(result.signer)):
        raise Invalid("the signing certificate is not a TSA certificate (RFC 3161 requires a critical timeStamping "
                      "extended key usage)")
    signer = data.signer
    # What `_check_ess` reads: the signing-certificate attributes' values and the certificate (once per run for
    # the same bytes: a TSA's tokens all carry the same).
    ess = tuple(None if values is None else tuple([node.raw for node in values])
                for values in (signer.attributes.get(_SIGNING_CERTIFICATE_V2), signer.attributes.get(_SIGNING_CERTIFICATE)))
    memo.keyed("ess", (ess, result.signer_der), lambda: _check_ess(signer, result.signer_der))
    return Stamp(gen_time, result.signer)


def _stamped_time(content: bytes, data_digest: bytes) -> datetime:
    """The TSTInfo's genTime, if its imprint is the SHA-256 `data_digest`: read in one pass when it has the usual
    shape, else by the reference reader (whose refusal, and its message, is then the verdict)."""
    try:
        algorithm, imprinted, gen_time = _tst_info_one_pass(content)
    except (one_pass.Unusual, Invalid, IndexError, ValueError):
        return _stamped_time_reference(content, data_digest)
    if algorithm != SHA256 or imprinted != data_digest:
        raise Invalid("the time-stamp is for other data")
    return moment(gen_time)


def _tst_info_one_pass(content: bytes) -> tuple[str, bytes, Node]:
    """The imprint's algorithm and digest and the genTime element, validated as the reference validates the
    levels it reads (or Unusual)."""
    top = one_pass.elements(content, 0, len(content))
    if len(top) != 4 or top[0] != SEQUENCE:
        raise one_pass.Unusual
    info = one_pass.elements(content, top[2], top[3])
    if len(info) < 20 or info[8] != SEQUENCE:
        raise one_pass.Unusual
    imprint = one_pass.elements(content, info[10], info[11])
    if len(imprint) != 8 or imprint[0] != SEQUENCE or imprint[4] != OCTETS:
        raise one_pass.Unusual
    algorithm = one_pass.elements(content, imprint[2], imprint[3])
    if not algorithm or algorithm[0] != OID:
        raise one_pass.Unusual
    gen_time = Node(info[16], content[info[18]:info[19]], content[info[17]:info[19]])
    return _dotted(content[algorithm[2]:algorithm[3]]), content[imprint[6]:imprint[7]], gen_time


def _stamped_time_reference(content: bytes, data_digest: bytes) -> datetime:
    info = expect(read_one(content), SEQUENCE, "TSTInfo").children()
    if len(info) < 5:
        raise Invalid("malformed TSTInfo")
    imprint = info[2].children()
    if len(imprint) != 2 or oid(child(imprint[0], 0, "imprint")) != SHA256 or \
            expect(imprint[1], OCTETS, "imprint").content != data_digest:
        raise Invalid("the time-stamp is for other data")
    return moment(info[4])


def _time_stamping_only(cert: x509.Certificate) -> bool:
    """RFC 3161 §2.3: a critical extended key usage naming time-stamping alone."""
    try:
        usage = extension(cert, x509.ExtendedKeyUsage)
    except ValueError:  # a malformed extension
        usage = None
    return usage is not None and usage.critical and list(usage.value) == [ExtendedKeyUsageOID.TIME_STAMPING]


def _check_ess(signer: SignerInfo, der: bytes) -> None:
    """RFC 3161 §2.4.2 / RFC 5816: the signing-certificate attribute names the TSA certificate (`der`, as the
    token carries it) by its hash."""
    for name, v2 in ((_SIGNING_CERTIFICATE_V2, True), (_SIGNING_CERTIFICATE, False)):
        value = signer.single_value(name, "signing-certificate")
        if value is None:
            continue
        cert_id = child(child(value, 0, "signing-certificate"), 0, "signing-certificate").children()
        hash_oid = _SHA1  # ESSCertID (RFC 2634) is defined with SHA-1
        if v2:
            hash_oid = SHA256
            if cert_id and cert_id[0].tag == SEQUENCE:
                hash_oid = oid(child(cert_id[0], 0, "signing-certificate hash"))
                cert_id = cert_id[1:]
        if hash_oid == _SHA1:
            expected = hashlib.sha1(der).digest()  # noqa: S324 (the format's own choice, not ours)
        elif hash_oid in DIGESTS:
            expected = digest(hash_oid, der)
        else:
            raise Invalid(f"unsupported hash {hash_oid} in the signing-certificate attribute")
        if not cert_id or expect(cert_id[0], OCTETS, "certificate hash").content != expected:
            raise Invalid("the time-stamp's signing-certificate attribute names another certificate")
        return
    raise Invalid("the time-stamp has no signing-certificate attribute")
