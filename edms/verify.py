"""`edms-verify PACKAGE.zip`: check an edms inspection package offline, with nothing but `cryptography`.

Deliberately self-contained (Python standard library + pyca/cryptography, no other edms module, no
asn1crypto): an inspector can copy this one file anywhere and run `python edms_verify.py PACKAGE.zip`.
The few ASN.1 structures it needs (CMS SignedData, RFC 3161 TimeStampResp/TSTInfo, ESS signing-certificate
attributes) are read with a small DER walker below; every cryptographic operation is cryptography's.

What it checks, and prints one PASS or FAIL line for:
- every file against the SHA-256 in manifest.json; files missing from the package or not listed in it;
- manifest.json's CMS signature by the package's system certificate, and its RFC 3161 time-stamp;
- every electronic signature: the CMS over its manifest.json, the signer's certificate chain to the
  package's root CA, validity and revocation (the package's CRL) at the time-stamped moment, the
  time-stamp over the signature value, the certificate naming the signer of the manifest, and the
  manifest naming this document, version and content SHA-256 (recomputed from content.json);
- every version's content.json against its recorded content hash and its attachments' hashes;
- every audit event's hash and previous-hash link, and each chain segment ending at a checkpoint whose
  system signature and time-stamp verify and whose signed head hash is that of the segment's last event;
- the audit events that record the package's submissions and signatures.

Exit status 0 when every item passes, 1 when any fails, 2 when the package cannot be read at all.
Everything is judged at the time-stamped moments, never at today's date, so a package verifies the same
way years later (EU Annex 11 §17).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import PurePosixPath

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PACKAGE_TYPE = "edms.inspection-package"
PACKAGE_FORMATS = (1,)
MANIFEST = "manifest.json"
# The seal over manifest.json cannot list itself: these are the only files manifest.json does not name.
SEAL_SIGNATURE = "manifest.json.p7s"
SEAL_VALUE = "manifest.json.sigvalue.bin"
SEAL_TIMESTAMP = "manifest.json.tsr"
SEAL_FILES = (MANIFEST, SEAL_SIGNATURE, SEAL_VALUE, SEAL_TIMESTAMP)
SIGNATURE_MANIFEST_TYPE = "edms.electronic-signature"
CHECKPOINT_TYPE = "edms.audit-checkpoint"
# edms requests the time-stamp right after signing: a signing time further from it was not written by edms.
SIGNING_TIME_TOLERANCE = timedelta(minutes=10)
GENESIS_HASH = "0" * 64
AUDIT_HASHED_FIELDS = frozenset({
    "seq", "occurred_at", "actor_id", "actor_name", "action", "object_type", "object_id", "document_version",
    "case_id", "changes", "reason", "request_id", "client_addr", "app_version", "prev_hash",
})
SIGNED_ACTIONS = ("signature.signed", "signature.rejected")
_MAX_CHAIN = 8

# Object identifiers (dotted form) used below.
_DATA = "1.2.840.113549.1.7.1"
_SIGNED_DATA = "1.2.840.113549.1.7.2"
_TST_INFO = "1.2.840.113549.1.9.16.1.4"
_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_SIGNING_CERTIFICATE = "1.2.840.113549.1.9.16.2.12"
_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"
_DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "2.16.840.1.101.3.4.2.1": hashes.SHA256,
    "2.16.840.1.101.3.4.2.2": hashes.SHA384,
    "2.16.840.1.101.3.4.2.3": hashes.SHA512,
}
_SHA256 = "2.16.840.1.101.3.4.2.1"
_SHA1 = "1.3.14.3.2.26"
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

_SEQUENCE, _SET, _INTEGER, _OCTETS, _OID, _UTC_TIME, _GENERALIZED_TIME = 0x30, 0x31, 0x02, 0x04, 0x06, 0x17, 0x18
_CONTEXT_0, _CONTEXT_1, _IMPLICIT_0 = 0xA0, 0xA1, 0x80


class Invalid(ValueError):
    """Why one item fails; the message is printed after FAIL."""


# --- a minimal DER reader ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """One DER TLV: its (single-byte) tag, its content octets and its whole encoding."""

    tag: int
    content: bytes
    raw: bytes

    def children(self) -> list[Node]:
        if not self.tag & 0x20:
            raise Invalid("malformed DER: a primitive value where a structure was expected")
        return read_all(self.content)


def _read(data: bytes, offset: int) -> tuple[Node, int]:
    try:
        tag = data[offset]
        if tag & 0x1F == 0x1F:
            raise Invalid("malformed DER: multi-byte tags are not used by these structures")
        length = data[offset + 1]
        start = offset + 2
        if length & 0x80:
            count = length & 0x7F
            if count == 0 or count > 4:
                raise Invalid("malformed DER: indefinite or oversized length")
            length = int.from_bytes(data[start:start + count], "big")
            start += count
    except IndexError:
        raise Invalid("malformed DER: truncated") from None
    end = start + length
    if end > len(data):
        raise Invalid("malformed DER: truncated")
    return Node(tag, data[start:end], data[offset:end]), end


def read_all(data: bytes) -> list[Node]:
    nodes, offset = [], 0
    while offset < len(data):
        node, offset = _read(data, offset)
        nodes.append(node)
    return nodes


def read_one(data: bytes) -> Node:
    node, end = _read(data, 0)
    if end != len(data):
        raise Invalid("malformed DER: bytes after the structure")
    return node


def _expect(node: Node, tag: int, what: str) -> Node:
    if node.tag != tag:
        raise Invalid(f"malformed {what}")
    return node


def oid(node: Node) -> str:
    _expect(node, _OID, "object identifier")
    arcs, value = [], 0
    for byte in node.content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if not arcs:
        raise Invalid("malformed object identifier")
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in (first, arcs[0] - 40 * first, *arcs[1:]))


def integer(node: Node) -> int:
    return int.from_bytes(_expect(node, _INTEGER, "integer").content, "big", signed=True)


def moment(node: Node) -> datetime:
    """UTCTime or GeneralizedTime (UTC, "Z"), fractions of a second kept."""
    text = node.content.decode("ascii", "replace")
    if node.tag == _UTC_TIME:
        text = ("19" if int(text[:2]) >= 50 else "20") + text
    elif node.tag != _GENERALIZED_TIME:
        raise Invalid("malformed time")
    if not text.endswith("Z") or len(text) < 15:
        raise Invalid(f"unsupported time {text!r}")
    whole, _, fraction = text[:-1].partition(".")
    try:
        value = datetime.strptime(whole, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
    except ValueError:
        raise Invalid(f"malformed time {text!r}") from None
    if fraction:
        value += timedelta(microseconds=round(float(f"0.{fraction}") * 1_000_000))
    return value


# --- CMS SignedData ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignerInfo:
    issuer: bytes | None  # DER of the issuer Name (issuerAndSerialNumber), or None
    serial: int | None
    key_id: bytes | None  # subjectKeyIdentifier, the other way to name the signer
    digest_oid: str
    signed_attrs: Node | None
    attributes: dict[str, list[Node]]
    signature_oid: str
    signature: bytes


@dataclass(frozen=True)
class SignedData:
    content_type: str
    content: bytes | None  # None when detached
    certificates: tuple[bytes, ...]  # DER
    signers: tuple[SignerInfo, ...]


def signed_data(der: bytes) -> SignedData:
    try:
        content_info = read_one(der).children()
        if len(content_info) != 2 or oid(content_info[0]) != _SIGNED_DATA:
            raise Invalid("not a CMS SignedData")
        fields = _expect(content_info[1], _CONTEXT_0, "CMS").children()[0].children()
        encapsulated = fields[2].children()
        content = None
        if len(encapsulated) > 1:
            content = _expect(_expect(encapsulated[1], _CONTEXT_0, "content").children()[0], _OCTETS, "content").content
        certificates: tuple[bytes, ...] = ()
        rest = fields[3:]
        if rest and rest[0].tag == _CONTEXT_0:
            certificates = tuple(node.raw for node in rest[0].children() if node.tag == _SEQUENCE)
            rest = rest[1:]
        if rest and rest[0].tag == _CONTEXT_1:  # CRLs: not used
            rest = rest[1:]
        signers = tuple(_signer_info(node) for node in _expect(rest[0], _SET, "signer infos").children())
        return SignedData(oid(encapsulated[0]), content, certificates, signers)
    except IndexError:
        raise Invalid("not a well-formed CMS SignedData") from None


def _signer_info(node: Node) -> SignerInfo:
    fields = node.children()
    sid = fields[1]
    issuer = serial = key_id = None
    if sid.tag == _SEQUENCE:
        issuer_node, serial_node = sid.children()
        issuer, serial = issuer_node.raw, integer(serial_node)
    elif sid.tag == _IMPLICIT_0:
        key_id = sid.content
    else:
        raise Invalid("malformed signer identifier")
    digest_oid = oid(fields[2].children()[0])
    position = 3
    signed_attrs = None
    attributes: dict[str, list[Node]] = {}
    if fields[position].tag == _CONTEXT_0:
        signed_attrs = fields[position]
        for attribute in signed_attrs.children():
            kind, values = attribute.children()
            name = oid(kind)
            if name in attributes:
                raise Invalid(f"the signed attribute {name} appears twice")
            attributes[name] = values.children()
        position += 1
    signature_oid = oid(fields[position].children()[0])
    signature = _expect(fields[position + 1], _OCTETS, "signature").content
    return SignerInfo(issuer, serial, key_id, digest_oid, signed_attrs, attributes, signature_oid, signature)


def single_signer(data: SignedData) -> SignerInfo:
    if len(data.signers) != 1:
        raise Invalid(f"expected exactly one signer, found {len(data.signers)}")
    return data.signers[0]


def signature_value(cms_der: bytes) -> bytes:
    """The SignerInfo's signature octets: what edms time-stamps (as CAdES-T does)."""
    return single_signer(signed_data(cms_der)).signature


def _certificate_issuer(der: bytes) -> bytes:
    tbs = read_one(der).children()[0].children()
    if tbs[0].tag == _CONTEXT_0:  # explicit version
        tbs = tbs[1:]
    return tbs[2].raw


def _signer_certificate(data: SignedData, signer: SignerInfo) -> x509.Certificate:
    for der in data.certificates:
        cert = x509.load_der_x509_certificate(der)
        if signer.key_id is not None:
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
            except x509.ExtensionNotFound:
                continue
            if ski == signer.key_id:
                return cert
        elif cert.serial_number == signer.serial and _certificate_issuer(der) == signer.issuer:
            return cert
    raise Invalid("the signer's certificate is not included in the signature")


def _single_value(signer: SignerInfo, name: str, what: str) -> Node | None:
    values = signer.attributes.get(name)
    if values is None:
        return None
    if len(values) != 1:
        raise Invalid(f"the signed attribute {what} must have exactly one value")
    return values[0]


@dataclass(frozen=True)
class CmsResult:
    signer: x509.Certificate
    chain: tuple[x509.Certificate, ...]


def verify_cms(cms_der: bytes, content: bytes | None, trust: Trust, at: datetime) -> CmsResult:
    """A SignedData over `content` (detached) or its own content, by a certificate chaining to the
    trusted root, valid and not revoked at `at`."""
    data = signed_data(cms_der)
    signer = single_signer(data)
    if content is None:
        if data.content is None:
            raise Invalid("the signature carries no content")
        content = data.content
    cert = _signer_certificate(data, signer)
    if signer.signed_attrs is None:
        raise Invalid("the signature has no signed attributes")
    content_type = _single_value(signer, _CONTENT_TYPE, "content-type")
    if content_type is None or oid(content_type) != data.content_type:
        raise Invalid("the signed content-type attribute is missing or does not match the content")
    if signer.digest_oid not in _DIGESTS:
        raise Invalid(f"unsupported digest algorithm {signer.digest_oid}")
    digest = _single_value(signer, _MESSAGE_DIGEST, "message-digest")
    if digest is None or _expect(digest, _OCTETS, "message digest").content != _hash(signer.digest_oid, content):
        raise Invalid("the content does not match the signed message digest")
    # RFC 5652 §5.4: the signature covers the signed attributes encoded as a SET OF (tag 0x31).
    _check_signature(cert, signer, b"\x31" + signer.signed_attrs.raw[1:])
    chain = trust.chain(cert, [x509.load_der_x509_certificate(der) for der in data.certificates], at)
    return CmsResult(cert, chain)


def _hash(digest_oid: str, data: bytes) -> bytes:
    digest = hashes.Hash(_DIGESTS[digest_oid]())
    digest.update(data)
    return digest.finalize()


def _check_signature(cert: x509.Certificate, signer: SignerInfo, signed: bytes) -> None:
    if signer.signature_oid not in _SIGNATURE_ALGORITHMS:
        raise Invalid(f"unsupported signature algorithm {signer.signature_oid}")
    kind, hash_oid = _SIGNATURE_ALGORITHMS[signer.signature_oid]
    hash_oid = hash_oid or signer.digest_oid
    if hash_oid not in _DIGESTS:
        raise Invalid(f"unsupported signature hash {hash_oid}")
    algorithm = _DIGESTS[hash_oid]()
    key = cert.public_key()
    try:
        if kind == "ec" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signer.signature, signed, ec.ECDSA(algorithm))
        elif kind == "rsa" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signer.signature, signed, padding.PKCS1v15(), algorithm)
        else:
            raise Invalid("the signature algorithm does not fit the signer's key")
    except InvalidSignature:
        raise Invalid("the signature does not verify with the signer's certificate") from None


# --- certificates, chains and revocation ------------------------------------------------------------


def describe(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def utc(value: datetime) -> str:
    return f"{value.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC"


def _extension(cert: x509.Certificate, kind):
    try:
        return cert.extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return None


@dataclass
class Trust:
    """The package's root CA (what everything must chain to), the system certificate that seals packages and
    signs checkpoints, the CA certificates the package ships, and its CRLs."""

    root: x509.Certificate
    system: x509.Certificate
    intermediates: list[x509.Certificate] = field(default_factory=list)
    crls: list[x509.CertificateRevocationList] = field(default_factory=list)

    def chain(self, leaf: x509.Certificate, extra: Sequence[x509.Certificate], at: datetime) -> tuple[x509.Certificate, ...]:
        chain = [leaf]
        candidates = [self.root, *self.intermediates, *extra]
        while chain[-1] != self.root:
            issuer = next((c for c in candidates if c not in chain and _issued_by(chain[-1], c)), None)
            if issuer is None or len(chain) >= _MAX_CHAIN:
                raise Invalid(f"the certificate of {describe(chain[-1])} does not chain to the package's root CA")
            chain.append(issuer)
        self._check(chain, at)
        return tuple(chain)

    def _check(self, chain: list[x509.Certificate], at: datetime) -> None:
        for cert in chain:
            if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
                raise Invalid(f"the certificate of {describe(cert)} was not valid on {utc(at)}")
        usage = _extension(chain[0], x509.KeyUsage)
        if usage is not None and not (usage.value.digital_signature or usage.value.content_commitment):
            raise Invalid(f"the certificate of {describe(chain[0])} may not sign")
        for depth, issuer in enumerate(chain[1:]):
            constraints = _extension(issuer, x509.BasicConstraints)
            usage = _extension(issuer, x509.KeyUsage)
            if constraints is None or not constraints.value.ca or (usage is not None and not usage.value.key_cert_sign):
                raise Invalid(f"the certificate of {describe(issuer)} is not a CA certificate")
            if constraints.value.path_length is not None and depth > constraints.value.path_length:
                raise Invalid(f"the chain below {describe(issuer)} exceeds its path length")
        for cert, issuer in zip(chain, chain[1:]):
            self._check_revocation(cert, issuer, at)

    def _check_revocation(self, cert: x509.Certificate, issuer: x509.Certificate, at: datetime) -> None:
        for crl in self.crls:
            if crl.issuer != issuer.subject:
                continue
            if not crl.is_signature_valid(issuer.public_key()):
                raise Invalid(f"the CRL of {describe(issuer)} is not signed by it")
            if crl.last_update_utc < at.replace(microsecond=0):
                raise Invalid(f"the CRL of {describe(issuer)} ({utc(crl.last_update_utc)}) predates {utc(at)}: it "
                              "cannot show the certificate was unrevoked then")
            entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
            if entry is not None and entry.revocation_date_utc <= at:
                raise Invalid(f"the certificate of {describe(cert)} was revoked on {utc(entry.revocation_date_utc)}, "
                              f"before {utc(at)}")


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


# --- RFC 3161 time-stamps ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Stamp:
    gen_time: datetime
    tsa: x509.Certificate


def token_of(tsr_or_token: bytes) -> bytes:
    """The TimeStampToken in a TimeStampResp (status granted), or the token itself."""
    top = read_one(tsr_or_token).children()
    if top and top[0].tag == _OID:
        return tsr_or_token
    status = _expect(top[0], _SEQUENCE, "time-stamp status").children()
    if integer(status[0]) not in (0, 1):
        raise Invalid(f"the time-stamping authority refused (status {integer(status[0])})")
    if len(top) < 2:
        raise Invalid("the time-stamp response carries no token")
    return top[1].raw


def verify_timestamp(tsr_or_token: bytes, data_digest: bytes, trust: Trust) -> Stamp:
    """An RFC 3161 token over the SHA-256 `data_digest`, signed by a TSA certificate chaining to the
    root, valid and unrevoked at the stamped time, restricted to time-stamping and named by the token."""
    token = token_of(tsr_or_token)
    data = signed_data(token)
    if data.content_type != _TST_INFO or data.content is None:
        raise Invalid("the token does not contain a TSTInfo")
    info = read_one(data.content).children()
    imprint = info[2].children()
    if oid(imprint[0].children()[0]) != _SHA256 or _expect(imprint[1], _OCTETS, "imprint").content != data_digest:
        raise Invalid("the time-stamp is for other data")
    gen_time = moment(info[4])
    result = verify_cms(token, None, trust, gen_time)
    usage = _extension(result.signer, x509.ExtendedKeyUsage)
    if usage is None or not usage.critical or list(usage.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise Invalid("the time-stamp is not signed by a TSA certificate (critical timeStamping usage)")
    _check_ess(single_signer(data), result.signer)
    return Stamp(gen_time, result.signer)


def _check_ess(signer: SignerInfo, tsa: x509.Certificate) -> None:
    """RFC 3161 §2.4.2 / RFC 5816: the signing-certificate attribute names the TSA certificate by its hash."""
    der = tsa.public_bytes(Encoding.DER)
    for name, v2 in ((_SIGNING_CERTIFICATE_V2, True), (_SIGNING_CERTIFICATE, False)):
        value = _single_value(signer, name, "signing-certificate")
        if value is None:
            continue
        cert_id = value.children()[0].children()[0].children()
        hash_oid = _SHA1
        if v2:
            hash_oid = _SHA256
            if cert_id[0].tag == _SEQUENCE:
                hash_oid = oid(cert_id[0].children()[0])
                cert_id = cert_id[1:]
        expected = hashlib.sha1(der).digest() if hash_oid == _SHA1 else _hash(hash_oid, der) if hash_oid in _DIGESTS else None
        if expected is None:
            raise Invalid(f"unsupported hash {hash_oid} in the signing-certificate attribute")
        if _expect(cert_id[0], _OCTETS, "certificate hash").content != expected:
            raise Invalid("the time-stamp's signing-certificate attribute names another certificate")
        return
    raise Invalid("the time-stamp has no signing-certificate attribute")


# --- the package ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    ok: bool
    name: str
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'}  {self.name}: {self.detail}"


@dataclass
class Report:
    items: list[Item] = field(default_factory=list)

    def add(self, ok: bool, name: str, detail: str) -> Item:
        item = Item(ok, name, detail)
        self.items.append(item)
        return item

    @property
    def ok(self) -> bool:
        return bool(self.items) and all(item.ok for item in self.items)

    @property
    def failures(self) -> list[Item]:
        return [item for item in self.items if not item.ok]


class Package:
    """The ZIP's files and what manifest.json says about them."""

    def __init__(self, files: dict[str, bytes], manifest: dict) -> None:
        self.files = files
        self.manifest = manifest

    def read(self, path: str) -> bytes:
        try:
            return self.files[path]
        except KeyError:
            raise Invalid(f"{path} is missing from the package") from None


def open_package(source) -> dict[str, bytes]:
    """Every regular file in the ZIP by name; duplicate or unsafe names make the package unreadable."""
    with zipfile.ZipFile(source) as archive:
        files: dict[str, bytes] = {}
        for info in archive.infolist():
            if info.is_dir():
                continue
            path = PurePosixPath(info.filename)
            if path.is_absolute() or ".." in path.parts or "\\" in info.filename:
                raise Invalid(f"unsafe file name in the package: {info.filename!r}")
            if info.filename in files:
                raise Invalid(f"the file {info.filename} appears twice in the package")
            files[info.filename] = archive.read(info)
    return files


def verify_package(source, *, root_pem: bytes | None = None) -> Report:
    """Check everything in the package at `source` (a path or a file object); never raises for a bad package."""
    report = Report()
    try:
        files = open_package(source)
    except (zipfile.BadZipFile, OSError, Invalid) as exc:
        report.add(False, "package", f"cannot be read: {exc}")
        return report
    try:
        manifest = json.loads(files[MANIFEST].decode("utf-8"))
        if not isinstance(manifest, dict) or manifest.get("type") != PACKAGE_TYPE:
            raise ValueError("not an edms inspection package manifest")
        if manifest.get("format") not in PACKAGE_FORMATS:
            raise ValueError(f"package format {manifest.get('format')!r} is not one this verifier knows")
    except KeyError:
        report.add(False, MANIFEST, "missing: this is not an edms inspection package")
        return report
    except (UnicodeDecodeError, ValueError) as exc:
        report.add(False, MANIFEST, f"unreadable: {exc}")
        return report
    package = Package(files, manifest)
    trust = _check_pki(report, package, root_pem)
    _check_files(report, package)
    if trust is None:
        return report
    _check_seal(report, package, trust)
    events = _check_audit(report, package, trust)
    _check_documents(report, package, trust, events)
    return report


def _check(report: Report, name: str, check, success) -> object | None:
    """Run one check; a pass reports `success(result)`, any failure its reason. Returns the result or None."""
    try:
        result = check()
    except Invalid as exc:
        report.add(False, name, str(exc))
        return None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        report.add(False, name, f"malformed ({type(exc).__name__}: {exc})")
        return None
    report.add(True, name, success(result))
    return result


def _check_pki(report: Report, package: Package, root_pem: bytes | None) -> Trust | None:
    paths = package.manifest.get("pki") or {}

    def load() -> Trust:
        root = x509.load_pem_x509_certificate(package.read(paths["root"]))
        if root_pem is not None and x509.load_pem_x509_certificate(root_pem) != root:
            raise Invalid("the package's root CA is not the root CA you gave (--root): do not trust this package")
        others = [x509.load_pem_x509_certificate(package.read(paths[name])) for name in ("signing_ca", "tsa", "system")]
        for cert in others:
            if not _issued_by(cert, root):
                raise Invalid(f"the certificate of {describe(cert)} is not issued by the package's root CA")
        crls = [x509.load_pem_x509_crl(package.read(path)) for path in paths.get("crls", [])]
        return Trust(root, others[2], [others[0]], crls)

    def success(trust: Trust) -> str:
        pinned = "matches the root CA you gave" if root_pem is not None else \
            "compare this fingerprint with the one the organisation publishes, or pass --root"
        return (f"root CA {describe(trust.root)}, SHA-256 fingerprint "
                f"{trust.root.fingerprint(hashes.SHA256()).hex(':').upper()} ({pinned})")

    return _check(report, "certificates", load, success)


def _check_files(report: Report, package: Package) -> None:
    listed = {}
    for entry in package.manifest.get("files", []):
        listed[entry["path"]] = entry
    bad = 0
    for path, entry in sorted(listed.items()):
        data = package.files.get(path)
        if data is None:
            report.add(False, f"file {path}", "listed in manifest.json but missing from the package")
            bad += 1
        elif hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            report.add(False, f"file {path}", f"SHA-256 {hashlib.sha256(data).hexdigest()} differs from manifest.json "
                                              f"({entry.get('sha256')}): changed")
            bad += 1
        elif len(data) != entry.get("size"):
            report.add(False, f"file {path}", "size differs from manifest.json")
            bad += 1
    for path in sorted(set(package.files) - set(listed) - set(SEAL_FILES)):
        report.add(False, f"file {path}", "in the package but not listed in manifest.json (added)")
        bad += 1
    for path in SEAL_FILES[1:]:
        if path not in package.files:
            report.add(False, f"file {path}", "missing: the package's seal is incomplete")
            bad += 1
    if not bad:
        report.add(True, "files", f"all {len(listed)} files listed in manifest.json are present, unchanged "
                                  "(SHA-256 and size), and nothing else is in the package")


def _check_seal(report: Report, package: Package, trust: Trust) -> None:
    def check() -> Stamp:
        cms = package.read(SEAL_SIGNATURE)
        value = signature_value(cms)
        if package.read(SEAL_VALUE) != value:
            raise Invalid(f"{SEAL_VALUE} is not the signature value of {SEAL_SIGNATURE}")
        stamp = verify_timestamp(package.read(SEAL_TIMESTAMP), hashlib.sha256(value).digest(), trust)
        signed = verify_cms(cms, package.read(MANIFEST), trust, stamp.gen_time)
        if signed.signer != trust.system:
            raise Invalid(f"signed by {describe(signed.signer)}, not by the system certificate of the package")
        return stamp

    _check(report, f"{MANIFEST} seal", check,
           lambda stamp: f"signed by the system ({describe(trust.system)}), time-stamped {utc(stamp.gen_time)} by "
                         f"{describe(stamp.tsa)}")


# --- the audit trail --------------------------------------------------------------------------------


def audit_event_hash(line: bytes) -> str:
    """An event line is exactly the canonical JSON edms hashed (RFC 8785 for this flat domain)."""
    return hashlib.sha256(line).hexdigest()


def _canonical(event: dict) -> bytes:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Event:
    seq: int
    fields: dict
    hash: str


def _check_audit(report: Report, package: Package, trust: Trust) -> dict[int, Event]:
    audit = package.manifest.get("audit") or {}
    events: dict[int, Event] = {}
    try:
        lines = package.read(audit["events"]).split(b"\n")
    except (KeyError, Invalid) as exc:
        report.add(False, "audit events", f"unreadable: {exc}")
        return events
    for number, line in enumerate(lines, 1):
        if not line:
            continue
        try:
            fields = json.loads(line.decode("utf-8"))
            if not isinstance(fields, dict) or set(fields) != AUDIT_HASHED_FIELDS:
                raise ValueError("not the fields of an audit event")
            if _canonical(fields) != line:
                raise ValueError("not in canonical form")
            seq = fields["seq"]
            if not isinstance(seq, int) or seq in events:
                raise ValueError("missing or repeated seq")
        except (UnicodeDecodeError, ValueError) as exc:
            report.add(False, f"audit event on line {number}", f"malformed ({exc})")
            continue
        events[seq] = Event(seq, fields, audit_event_hash(line))
    checkpoints = {}
    for entry in audit.get("checkpoints", []):
        found = _check(report, f"audit checkpoint #{entry.get('number')}",
                       lambda entry=entry: _checkpoint(package, trust, entry),
                       lambda c: f"signs seq {c['seq']} (head hash {c['head_hash'][:16]}…), system signature valid, "
                                 f"time-stamped {utc(c['gen_time'])}")
        if found is not None:
            checkpoints[found["seq"]] = found
    _check_segments(report, events, checkpoints)
    relevant = audit.get("relevant_seqs", [])
    missing = [seq for seq in relevant if seq not in events]
    if missing:
        report.add(False, "audit events of the package", f"seq {', '.join(map(str, missing))} listed as relevant but "
                                                          "not in the events file")
    elif relevant:
        report.add(True, "audit events of the package", f"{len(relevant)} events about the records in this package "
                                                         f"(seq {min(relevant)}–{max(relevant)}) are in the verified chain")
    return events


def _checkpoint(package: Package, trust: Trust, entry: dict) -> dict:
    directory = entry["dir"].rstrip("/")
    payload = package.read(f"{directory}/payload.json")
    signed = json.loads(payload.decode("utf-8"))
    if signed.get("type") != CHECKPOINT_TYPE or signed.get("number") != entry.get("number"):
        raise Invalid("payload.json is not the payload of this checkpoint")
    cms = package.read(f"{directory}/signature.p7s")
    value = signature_value(cms)
    if package.read(f"{directory}/sigvalue.bin") != value:
        raise Invalid("sigvalue.bin is not the signature value of signature.p7s")
    stamp = verify_timestamp(package.read(f"{directory}/timestamp.tst"), hashlib.sha256(value).digest(), trust)
    result = verify_cms(cms, payload, trust, stamp.gen_time)
    if result.signer != trust.system:
        raise Invalid(f"signed by {describe(result.signer)}, not by the system certificate")
    return {"seq": signed["seq"], "head_hash": signed["head_hash"], "number": signed["number"], "gen_time": stamp.gen_time}


def _check_segments(report: Report, events: dict[int, Event], checkpoints: dict[int, dict]) -> None:
    """Runs of consecutive events: every hash recomputes, every link holds, time never goes back, and
    each run ends at an event whose hash a verified checkpoint signed."""
    if not events:
        report.add(False, "audit chain", "the package holds no audit events")
        return
    runs: list[list[Event]] = []
    for seq in sorted(events):
        if runs and runs[-1][-1].seq == seq - 1:
            runs[-1].append(events[seq])
        else:
            runs.append([events[seq]])
    for run in runs:
        name = f"audit chain seq {run[0].seq}–{run[-1].seq}"
        problems = []
        for previous, event in zip(run, run[1:]):
            if event.fields["prev_hash"] != previous.hash:
                problems.append(f"seq {event.seq}: previous-hash link broken (seq {previous.seq} changed, "
                                "removed or reordered)")
            if event.fields["occurred_at"] < previous.fields["occurred_at"]:
                problems.append(f"seq {event.seq}: time earlier than seq {previous.seq}")
        if run[0].seq == 1 and run[0].fields["prev_hash"] != GENESIS_HASH:
            problems.append("seq 1 does not start from the genesis hash")
        for event in run:
            checkpoint = checkpoints.get(event.seq)
            if checkpoint is not None and checkpoint["head_hash"] != event.hash:
                problems.append(f"seq {event.seq}: hash {event.hash[:16]}… is not the head hash checkpoint "
                                f"#{checkpoint['number']} signed ({checkpoint['head_hash'][:16]}…): changed after it was signed")
        end = checkpoints.get(run[-1].seq)
        if end is None:
            problems.append(f"no verified checkpoint signs seq {run[-1].seq}, the end of this segment")
        if problems:
            report.add(False, name, "; ".join(problems))
        else:
            report.add(True, name, f"{len(run)} events: every hash and link recomputes up to the head hash signed by "
                                   f"checkpoint #{end['number']}")


def _audit_index(events: dict[int, Event]) -> tuple[dict[str, Event], dict[tuple[str, int], list[Event]]]:
    """Signature events by signature id, submission events by (document id, version)."""
    signatures: dict[str, Event] = {}
    submissions: dict[tuple[str, int], list[Event]] = {}
    for event in events.values():
        fields = event.fields
        try:
            changes = json.loads(fields["changes"]) if fields["changes"] else {}
        except ValueError:
            continue
        if fields["action"] in SIGNED_ACTIONS:
            signature = (changes.get("signature") or {}).get("new") or {}
            if signature.get("signature_id"):
                signatures[signature["signature_id"]] = event
        elif fields["action"] == "document.submitted":
            submissions.setdefault((fields["object_id"], fields["document_version"]), []).append(event)
    return signatures, submissions


# --- documents, versions and signatures -------------------------------------------------------------


def _check_documents(report: Report, package: Package, trust: Trust, events: dict[int, Event]) -> None:
    signature_events, submissions = _audit_index(events)
    listed_signatures = set()
    for document in package.manifest.get("documents", []):
        for version in document.get("versions", []):
            label = f"{document.get('number')} v{version.get('version')}"
            _check(report, f"content {label}", lambda v=version, d=document: _content(package, d, v, submissions),
                   lambda result: result)
            content = package.files.get(version.get("content", ""))
            content_hash = None if content is None else hashlib.sha256(content).hexdigest()
            for entry in version.get("signatures", []):
                listed_signatures.add(entry.get("signature_id"))
                act = f"refused {entry.get('meaning')}" if entry.get("kind") == "rejection" else entry.get("meaning")
                _check(report, f"signature {entry.get('signature_id')} ({label}, {entry.get('signer')}, {act})",
                       lambda e=entry, d=document, v=version: _signature(
                           package, trust, d, v, e, content_hash, signature_events),
                       lambda result: result)
    documents = {str(document.get("id")) for document in package.manifest.get("documents", [])}
    for signature_id, event in sorted(signature_events.items(), key=lambda item: item[1].seq):
        if event.fields["object_id"] in documents and signature_id not in listed_signatures:
            report.add(False, f"signature {signature_id}", f"recorded in the audit trail at seq {event.seq} but "
                                                           "missing from the package (removed)")


def _content(package: Package, document: dict, version: dict, submissions) -> str:
    """content.json: its SHA-256 is the version's content hash; it names this record; its attachments are in the package."""
    data = package.read(version["content"])
    actual = hashlib.sha256(data).hexdigest()
    content = json.loads(data.decode("utf-8"))
    if (content.get("number"), content.get("version"), content.get("type")) != \
            (document.get("number"), version.get("version"), document.get("type")):
        raise Invalid("content.json names another document or version")
    recorded = version.get("content_sha256")
    by_hash = {attachment.get("sha256"): attachment for attachment in version.get("attachments", [])}
    for attachment in content.get("attachments", []):
        stored = by_hash.get(attachment.get("sha256"))
        if stored is None:
            raise Invalid(f"the attachment {attachment.get('name')} named in content.json is not in the package")
        if hashlib.sha256(package.read(stored["path"])).hexdigest() != attachment["sha256"]:
            raise Invalid(f"the attachment {stored['path']} does not hash to the SHA-256 content.json records")
    if recorded is None:
        return f"draft (not frozen, so never hashed or signed); {len(content.get('attachments', []))} attachment(s)"
    if actual != recorded:
        raise Invalid(f"SHA-256 of content.json is {actual}, but the version's content hash is {recorded}: changed")
    submitted = [event for event in submissions.get((str(document.get("id")), version.get("version")), [])
                 if _new_value(event, "content_sha256") == recorded]
    if not submitted:
        raise Invalid("no audit event in the package records the submission of this content hash")
    return (f"SHA-256 {actual} recomputes, as recorded at submission (audit seq {submitted[0].seq}); "
            f"{len(content.get('attachments', []))} attachment(s) present and unchanged")


def _new_value(event: Event, name: str):
    try:
        return json.loads(event.fields["changes"])[name]["new"]
    except (TypeError, ValueError, KeyError):
        return None


def _signature(package: Package, trust: Trust, document: dict, version: dict, entry: dict, content_hash: str | None,
               signature_events: dict[str, Event]) -> str:
    directory = entry["dir"].rstrip("/")
    manifest_bytes = package.read(f"{directory}/manifest.json")
    manifest = json.loads(manifest_bytes.decode("utf-8"))
    if manifest.get("type") != SIGNATURE_MANIFEST_TYPE:
        raise Invalid("manifest.json is not an edms signature manifest")
    if manifest.get("signature_id") != entry.get("signature_id"):
        raise Invalid(f"manifest.json is that of signature {manifest.get('signature_id')}, not of this one (swapped)")
    cms = package.read(f"{directory}/signature.p7s")
    value = signature_value(cms)
    if package.read(f"{directory}/sigvalue.bin") != value:
        raise Invalid("sigvalue.bin is not the signature value of signature.p7s")
    stamp = verify_timestamp(package.read(f"{directory}/timestamp.tsr"), hashlib.sha256(value).digest(), trust)
    result = verify_cms(cms, manifest_bytes, trust, stamp.gen_time)
    signer = result.signer
    if package.read(f"{directory}/signer.pem") != signer.public_bytes(Encoding.PEM):
        raise Invalid("signer.pem is not the certificate that made the signature")
    if len(result.chain) != 3:
        raise Invalid("the signing certificate is not a person's certificate from the organisation's signing CA")
    named = {attr: _attribute(signer, oid_) for attr, oid_ in
             (("signer_printed_name", NameOID.COMMON_NAME), ("signer_username", NameOID.USER_ID),
              ("signer_user_id", NameOID.SERIAL_NUMBER))}
    claimed = {"signer_printed_name": manifest.get("signer_printed_name"),
               "signer_username": manifest.get("signer_username"),
               "signer_user_id": str(manifest.get("signer_user_id"))}
    if named != claimed:
        raise Invalid(f"the certificate names {named['signer_printed_name']} ({named['signer_username']}), not the "
                      f"signer in the manifest, {claimed['signer_printed_name']} ({claimed['signer_username']})")
    if (manifest.get("document_id"), manifest.get("document_number"), manifest.get("version")) != \
            (document.get("id"), document.get("number"), version.get("version")):
        raise Invalid(f"the signature belongs to {manifest.get('document_number')} version {manifest.get('version')}, "
                      f"not to {document.get('number')} version {version.get('version')} (copied or moved)")
    if content_hash is None or manifest.get("content_sha256") != content_hash:
        raise Invalid(f"the signed content hash {manifest.get('content_sha256')} is not the SHA-256 of this version's "
                      "content.json (content changed after signing)")
    signed_at = datetime.strptime(manifest["signed_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    if abs(stamp.gen_time - signed_at) > SIGNING_TIME_TOLERANCE:
        raise Invalid(f"the time-stamp ({utc(stamp.gen_time)}) does not match the signing time ({utc(signed_at)})")
    event = signature_events.get(entry["signature_id"])
    if event is None:
        raise Invalid("no audit event in the package records this signature")
    recorded = (_new_value(event, "signature") or {})
    if recorded.get("content_sha256") != manifest.get("content_sha256") or event.fields["object_id"] != str(document.get("id")):
        raise Invalid(f"the audit event at seq {event.seq} records another signature")
    meaning = manifest.get("meaning")
    what = "refused to sign" if manifest.get("kind") == "rejection" else f"signed \"{meaning}\""
    delegation = manifest.get("delegation")
    if isinstance(delegation, dict):
        what += (f" on behalf of {delegation.get('on_behalf_of_printed_name')} (delegation "
                 f"{delegation.get('delegation_id')}, {delegation.get('valid_from')} to {delegation.get('valid_until')})")
    return (f"{manifest.get('signer_printed_name')} ({manifest.get('signer_role')}) {what} on {utc(signed_at)}; CMS "
            f"valid over manifest.json, certificate chain to the root valid and unrevoked at the time-stamp "
            f"{utc(stamp.gen_time)}; bound to content SHA-256 {content_hash[:16]}…; recorded at audit seq {event.seq}")


def _attribute(cert: x509.Certificate, name) -> str:
    values = cert.subject.get_attributes_for_oid(name)
    return str(values[0].value) if values else ""


# --- command line -----------------------------------------------------------------------------------


def render(report: Report, *, verbose: bool = False) -> Iterable[str]:
    for item in report.items:
        if verbose or not item.ok or not item.name.startswith("file "):
            yield item.line()
    failed = len(report.failures)
    if report.ok:
        yield f"RESULT: PASS: all {len(report.items)} items verified"
    else:
        yield f"RESULT: FAIL: {failed} of {len(report.items)} items failed"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="edms-verify",
        description="Verify an edms inspection package offline: file hashes, the system seal, every electronic "
                    "signature and time-stamp, certificates and revocation, content hashes and the audit chain.")
    parser.add_argument("package", help="the package (ZIP) exported by edms")
    parser.add_argument("--root", help="PEM file of the organisation's root CA obtained independently; the package "
                                       "must chain to exactly this root")
    parser.add_argument("-v", "--verbose", action="store_true", help="also list every file that matches")
    arguments = parser.parse_args(argv)
    root_pem = None
    if arguments.root:
        with open(arguments.root, "rb") as handle:
            root_pem = handle.read()
    try:
        with open(arguments.package, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        print(f"FAIL  package: cannot be read: {exc}")
        return 2
    report = verify_package(io.BytesIO(data), root_pem=root_pem)
    for line in render(report, verbose=arguments.verbose):
        print(line)
    if len(report.items) == 1 and report.items[0].name == "package":
        return 2
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
