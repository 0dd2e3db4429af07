"""The verdict on a stored signature, from what its cryptography gave (`stamped_check.Outcome`) and the rows it
claims (21 CFR 11.70): who signed (the certificate names the manifest's signer and is the one edms issued to
that person), which record (document, version and its content hash), and the row's own columns.

Pure: no database and no SQLAlchemy, so that a verification run's worker processes (`batch_check`) start
quickly; `edms.signatures.verification` judges ORM rows with the same functions.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from edms.errors import N_
from edms.signatures import stamped_check
from edms.signatures.manifest import Manifest, ManifestError, parse_manifest
from edms.timeutil import isoformat_utc
from edms.verifier import memo
from edms.verifier.constants import SIGNING_TIME_TOLERANCE, USER_CHAIN_LENGTH

if TYPE_CHECKING:  # not at run time: a verification run's workers judge without importing the PKI store
    from edms.pki.store import TrustAnchors


# What the judgement reads of each row: the ORM rows of a page, or the plain rows a verification run's
# workers rebuild from tuples (`edms.signatures.batch_check`).
class SignatureFields(Protocol):
    @property
    def signature_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def document_id(self) -> int: ...
    @property
    def version(self) -> int: ...
    @property
    def step(self) -> str: ...
    @property
    def meaning(self) -> str: ...
    @property
    def signer_id(self) -> int: ...
    @property
    def signed_at(self) -> datetime: ...
    @property
    def comment(self) -> str | None: ...
    @property
    def manifest(self) -> bytes: ...
    @property
    def cms(self) -> bytes: ...
    @property
    def timestamp_response(self) -> bytes: ...
    @property
    def timestamped_at(self) -> datetime: ...


class DocumentFields(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def number(self) -> str: ...


class VersionFields(Protocol):
    @property
    def document_id(self) -> int: ...
    @property
    def version(self) -> int: ...
    @property
    def content_sha256(self) -> str | None: ...


class CredentialFields(Protocol):
    @property
    def user_id(self) -> int: ...
    @property
    def certificate(self) -> bytes: ...


@dataclass(frozen=True)
class Verdict:
    ok: bool
    message: str  # English msgid with %(name)s placeholders, translated where shown
    params: Mapping[str, Any] = field(default_factory=dict)
    timestamped_at: datetime | None = None

    @property
    def text(self) -> str:
        return self.message % dict(self.params) if self.params else self.message

    @property
    def status(self) -> str:
        """As renditions print it: "valid" or "INVALID: <reason>"."""
        return "valid" if self.ok else f"INVALID: {self.text}"


VALID = N_("valid: signed by the person named, time-stamped, linked to this version's content")


@dataclass(frozen=True)
class Trust:
    """What a signature is judged against: the organisation's anchors, revocations and published CRLs."""

    anchors: TrustAnchors
    revoked: Mapping[int, datetime]  # certificate serial -> revocation time
    crls: Sequence[x509.CertificateRevocationList] = ()


@dataclass(frozen=True)
class _Crypto:
    verdict: Verdict | None  # None: the cryptography holds
    gen_time: datetime | None
    signer_cert: x509.Certificate | None
    signer_der: bytes | None = None  # the signer's certificate as the CMS carries it (compared as is)


def _invalid(message: str, gen_time: datetime | None = None, **params: Any) -> Verdict:
    return Verdict(False, message, params, gen_time)


def crypto_of(outcome: stamped_check.Outcome) -> _Crypto:
    """The verdict on a signature's cryptography, from what `stamped_check` found (here or in a worker)."""
    signer = None if outcome.signer is None else memo.certificate(outcome.signer)
    if outcome.failed == stamped_check.TIMESTAMP:
        return _Crypto(_invalid(N_("the time-stamp is invalid: %(reason)s"), reason=outcome.reason), None, None)
    if outcome.failed == stamped_check.SIGNATURE:
        return _Crypto(_invalid(N_("the signature does not verify: %(reason)s"), outcome.gen_time,
                                reason=outcome.reason), outcome.gen_time, signer, outcome.signer)
    if outcome.failed is not None or signer is None:
        return _Crypto(_invalid(N_("the CMS signature is not well-formed (changed after it was written)")), None, None)
    gen_time = outcome.gen_time
    if outcome.chain_length != USER_CHAIN_LENGTH or not _identity(signer, outcome.signer)["user_id"]:
        return _Crypto(_invalid(N_("the signing certificate is not a person's certificate from the organisation's "
                                   "signing CA"), gen_time), gen_time, signer, outcome.signer)
    return _Crypto(None, gen_time, signer, outcome.signer)


@lru_cache(maxsize=1024)
def _identity_of(cert: x509.Certificate) -> Mapping[str, str]:
    """`subject_identity`, read once per certificate (keyed by its DER: certificates compare and hash by it).
    Read-only: callers compare it, never change it."""
    return MappingProxyType(subject_identity(cert))


_IDENTITIES = 1024
_identities: dict[bytes, Mapping[str, str]] = {}


def _identity(cert: x509.Certificate, der: bytes | None) -> Mapping[str, str]:
    """`_identity_of(cert)`, looked up by `der` (the certificate's own bytes) when the caller holds them:
    hashing a Certificate object hashes its contents each time, bytes hash once."""
    if der is None:
        return _identity_of(cert)
    known = _identities.get(der)
    if known is None:
        if len(_identities) >= _IDENTITIES:
            _identities.clear()
        known = _identities[der] = _identity_of(cert)
    return known


def subject_identity(cert: x509.Certificate) -> dict[str, str]:
    """Who a user certificate names: printed name (CN), user name (UID), permanent user id (serialNumber)."""
    def first(oid) -> str:
        values = cert.subject.get_attributes_for_oid(oid)
        return str(values[0].value) if values else ""

    return {"printed_name": first(NameOID.COMMON_NAME), "username": first(NameOID.USER_ID),
            "user_id": first(NameOID.SERIAL_NUMBER)}


def verify_signature(signature: SignatureFields, *, document: DocumentFields | None, version: VersionFields | None,
                     credential: CredentialFields | None, trust: Trust, crypto: _Crypto | Callable[[], _Crypto],
                     content_sha256: str | Callable[[], str] | None) -> Verdict:
    """The verdict on `signature` as the record it claims: `crypto` (from `crypto_of`) and `content_sha256`
    (the version's hash recomputed now) as values, or as functions computing them when they are needed."""
    try:
        manifest = parse_manifest(signature.manifest)
    except ManifestError as exc:
        return _invalid(N_("the signed manifest is damaged: %(reason)s"), reason=str(exc))
    if callable(crypto):
        crypto = crypto()
    if crypto.verdict is not None:
        return crypto.verdict
    gen_time, cert = crypto.gen_time, crypto.signer_cert
    assert gen_time is not None and cert is not None
    revoked_at = trust.revoked.get(cert.serial_number)
    if revoked_at is not None and revoked_at <= gen_time:
        return _invalid(N_("the signer's certificate was revoked on %(revoked)s, before the signature was "
                           "time-stamped (%(stamped)s)"), gen_time,
                        revoked=isoformat_utc(revoked_at), stamped=isoformat_utc(gen_time))
    problem = (_identity_problem(manifest, cert, credential, crypto.signer_der)
               or _link_problem(manifest, document, version, content_sha256)
               or _row_problem(signature, manifest, gen_time))
    if problem is not None:
        message, params = problem
        return Verdict(False, message, params, gen_time)
    return Verdict(True, VALID, {}, gen_time)


def _identity_problem(manifest: Manifest, cert: x509.Certificate, credential: CredentialFields | None,
                      der: bytes | None):
    named = _identity(cert, der)
    claimed = {"printed_name": manifest.signer_printed_name, "username": manifest.signer_username,
               "user_id": str(manifest.signer_user_id)}
    if named != claimed:
        return N_("the certificate belongs to %(subject)s, not to the signer named in the manifest (%(signer)s)"), {
            "subject": f"{named['printed_name']} ({named['username']})",
            "signer": f"{manifest.signer_printed_name} ({manifest.signer_username})"}
    if (credential is None or credential.user_id != manifest.signer_user_id
            or credential.certificate != (cert.public_bytes(Encoding.DER) if der is None else der)):
        return N_("the signing certificate is not the one edms issued to %(signer)s"), {
            "signer": manifest.signer_printed_name}
    return None


def _link_problem(manifest: Manifest, document: DocumentFields | None, version: VersionFields | None,
                  content_sha256: str | Callable[[], str] | None):
    if document is None or version is None:
        return N_("the signed record does not exist"), {}
    if (manifest.document_id, manifest.document_number, manifest.version) != (document.id, document.number, version.version) \
            or version.document_id != document.id:
        return N_("the signature belongs to %(signed)s version %(signed_version)s, not to %(number)s version "
                  "%(version)s (copied or moved)"), {
            "signed": manifest.document_number, "signed_version": manifest.version,
            "number": document.number, "version": version.version}
    actual = content_sha256() if callable(content_sha256) else content_sha256
    if actual != manifest.content_sha256 or version.content_sha256 != manifest.content_sha256:
        return N_("the content of the version changed after it was signed (content hash now %(actual)s, signed "
                  "%(signed)s)"), {"actual": actual, "signed": manifest.content_sha256}
    return None


# The row's columns the manifest signs, by the manifest's names.
_ROW_FIELDS = ("signature_id", "kind", "document_id", "version", "step", "meaning", "signer_user_id", "signed_at",
               "comment")


def _row_problem(signature: SignatureFields, manifest: Manifest, gen_time: datetime):
    stored = (signature.signature_id, signature.kind, signature.document_id, signature.version, signature.step,
              signature.meaning, signature.signer_id, isoformat_utc(signature.signed_at), signature.comment)
    signed = (manifest.signature_id, manifest.kind, manifest.document_id, manifest.version, manifest.step,
              manifest.meaning, manifest.signer_user_id, isoformat_utc(manifest.signed_at), manifest.comment)
    if stored != signed:  # (strings, integers and None: equal as tuples exactly when equal one by one)
        differing = sorted(name for name, row, manifested in zip(_ROW_FIELDS, stored, signed, strict=True)
                           if row != manifested)
        return N_("the stored row differs from the signed manifest in %(fields)s (changed after signing)"), {
            "fields": ", ".join(differing)}
    if signature.timestamped_at != gen_time:
        return N_("the stored time-stamp time differs from the token's %(stamped)s"), {"stamped": isoformat_utc(gen_time)}
    if abs(gen_time - manifest.signed_at) > SIGNING_TIME_TOLERANCE:
        return N_("the time-stamp (%(stamped)s) does not match the signing time in the manifest (%(signed)s)"), {
            "stamped": isoformat_utc(gen_time), "signed": isoformat_utc(manifest.signed_at)}
    return None
