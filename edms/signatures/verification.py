"""Verifying a stored signature, wherever it is shown and in `edms verify` (21 CFR 11.70, 11.10(a), 11.300(c)).

A signature is valid only if all of these hold:
- the time-stamp (RFC 3161, by a TSA the organisation trusts) stamps exactly this CMS signature value;
- the CMS signature verifies over exactly the stored manifest bytes, by a person's certificate issued by
  the organisation's signing CA, valid and not revoked at the stamped time (CRL and revocation records);
- the certificate names the signer of the manifest and is the one edms issued to that person;
- the manifest names this document, this version and this version's content hash, and that hash is
  recomputed from the stored content now: a signature copied to another version or record, or content
  changed by one byte, fails;
- the row's own columns agree with the manifest it stores.

The cryptographic part is cached in-process, keyed by the SHA-256 of manifest, CMS and time-stamp (and of
what it was judged against); the link to the record is checked every time.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy.orm import Session

from edms.documents import models as dm
from edms.documents.queries import version_hash
from edms.errors import N_
from edms.pki.store import TrustAnchors
from edms.signatures import stamped_check
from edms.signatures.keys import revocations, subject_identity
from edms.signatures.manifest import Manifest, ManifestError, parse_manifest
from edms.signatures.models import Signature, SigningCredential
from edms.timeutil import isoformat_utc
from edms.verifier import memo
from edms.verifier.constants import SIGNING_TIME_TOLERANCE, USER_CHAIN_LENGTH

CACHE_SIZE = 20_000


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


_cache: OrderedDict[bytes, _Crypto] = OrderedDict()
_cache_lock = threading.Lock()


def _invalid(message: str, gen_time: datetime | None = None, **params: Any) -> Verdict:
    return Verdict(False, message, params, gen_time)


def _cache_key(signature: Signature, trust: Trust) -> bytes:
    digest = hashlib.sha256()
    for part in (signature.manifest, signature.cms, signature.timestamp_response):
        digest.update(hashlib.sha256(part).digest())
    for cert in (*trust.anchors.roots, *trust.anchors.tsa_roots):
        digest.update(cert.fingerprint(hashes.SHA256()))
    for crl in trust.crls:
        digest.update(hashlib.sha256(crl.public_bytes(Encoding.DER)).digest())
    return digest.digest()


def _crypto(signature: Signature, trust: Trust) -> _Crypto:
    key = _cache_key(signature, trust)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
    result = _check_crypto(signature, trust)
    with _cache_lock:
        _cache[key] = result
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def _check_crypto(signature: Signature, trust: Trust) -> _Crypto:
    return crypto_of(stamped_check.check(signature.cms, signature.timestamp_response, signature.manifest,
                                         trust.anchors.roots, trust.anchors.tsa_roots, trust.crls))


def crypto_of(outcome: stamped_check.Outcome) -> _Crypto:
    """The verdict on a signature's cryptography, from what `stamped_check` found (here or in a worker)."""
    signer = None if outcome.signer is None else memo.certificate(outcome.signer)
    if outcome.failed == stamped_check.TIMESTAMP:
        return _Crypto(_invalid(N_("the time-stamp is invalid: %(reason)s"), reason=outcome.reason), None, None)
    if outcome.failed == stamped_check.SIGNATURE:
        return _Crypto(_invalid(N_("the signature does not verify: %(reason)s"), outcome.gen_time,
                                reason=outcome.reason), outcome.gen_time, signer)
    if outcome.failed is not None or signer is None:
        return _Crypto(_invalid(N_("the CMS signature is not well-formed (changed after it was written)")), None, None)
    gen_time = outcome.gen_time
    if outcome.chain_length != USER_CHAIN_LENGTH or not subject_identity(signer)["user_id"]:
        return _Crypto(_invalid(N_("the signing certificate is not a person's certificate from the organisation's "
                                   "signing CA"), gen_time), gen_time, signer)
    return _Crypto(None, gen_time, signer)


def verify_signature(signature: Signature, *, document: dm.Document | None, version: dm.DocumentVersion | None,
                     credential: SigningCredential | None, trust: Trust, crypto: _Crypto | None = None,
                     content_sha256: str | None = None) -> Verdict:
    """The verdict on `signature` as the record it claims. `crypto` (from `crypto_of`) and `content_sha256`
    (the version's hash recomputed in this run) are given by a verification run that computed them
    itself; otherwise they are computed here, the cryptography through the in-process cache."""
    try:
        manifest = parse_manifest(signature.manifest)
    except ManifestError as exc:
        return _invalid(N_("the signed manifest is damaged: %(reason)s"), reason=str(exc))
    if crypto is None:
        crypto = _crypto(signature, trust)
    if crypto.verdict is not None:
        return crypto.verdict
    gen_time, cert = crypto.gen_time, crypto.signer_cert
    assert gen_time is not None and cert is not None
    revoked_at = trust.revoked.get(cert.serial_number)
    if revoked_at is not None and revoked_at <= gen_time:
        return _invalid(N_("the signer's certificate was revoked on %(revoked)s, before the signature was "
                           "time-stamped (%(stamped)s)"), gen_time,
                        revoked=isoformat_utc(revoked_at), stamped=isoformat_utc(gen_time))
    problem = (_identity_problem(manifest, cert, credential)
               or _link_problem(manifest, document, version, content_sha256)
               or _row_problem(signature, manifest, gen_time))
    if problem is not None:
        message, params = problem
        return Verdict(False, message, params, gen_time)
    return Verdict(True, VALID, {}, gen_time)


def _identity_problem(manifest: Manifest, cert: x509.Certificate, credential: SigningCredential | None):
    named = subject_identity(cert)
    claimed = {"printed_name": manifest.signer_printed_name, "username": manifest.signer_username,
               "user_id": str(manifest.signer_user_id)}
    if named != claimed:
        return N_("the certificate belongs to %(subject)s, not to the signer named in the manifest (%(signer)s)"), {
            "subject": f"{named['printed_name']} ({named['username']})",
            "signer": f"{manifest.signer_printed_name} ({manifest.signer_username})"}
    if (credential is None or credential.user_id != manifest.signer_user_id
            or credential.certificate != cert.public_bytes(Encoding.DER)):
        return N_("the signing certificate is not the one edms issued to %(signer)s"), {
            "signer": manifest.signer_printed_name}
    return None


def _link_problem(manifest: Manifest, document: dm.Document | None, version: dm.DocumentVersion | None,
                  content_sha256: str | None):
    if document is None or version is None:
        return N_("the signed record does not exist"), {}
    if (manifest.document_id, manifest.document_number, manifest.version) != (document.id, document.number, version.version) \
            or version.document_id != document.id:
        return N_("the signature belongs to %(signed)s version %(signed_version)s, not to %(number)s version "
                  "%(version)s (copied or moved)"), {
            "signed": manifest.document_number, "signed_version": manifest.version,
            "number": document.number, "version": version.version}
    actual = version_hash(document, version) if content_sha256 is None else content_sha256
    if actual != manifest.content_sha256 or version.content_sha256 != manifest.content_sha256:
        return N_("the content of the version changed after it was signed (content hash now %(actual)s, signed "
                  "%(signed)s)"), {"actual": actual, "signed": manifest.content_sha256}
    return None


def _row_problem(signature: Signature, manifest: Manifest, gen_time: datetime):
    stored = {
        "signature_id": signature.signature_id, "kind": signature.kind, "document_id": signature.document_id,
        "version": signature.version, "step": signature.step, "meaning": signature.meaning,
        "signer_user_id": signature.signer_id, "signed_at": isoformat_utc(signature.signed_at),
        "comment": signature.comment,
    }
    signed = {name: getattr(manifest, name) for name in stored}
    signed["signed_at"] = isoformat_utc(manifest.signed_at)
    differing = sorted(name for name in stored if stored[name] != signed[name])
    if differing:
        return N_("the stored row differs from the signed manifest in %(fields)s (changed after signing)"), {
            "fields": ", ".join(differing)}
    if signature.timestamped_at != gen_time:
        return N_("the stored time-stamp time differs from the token's %(stamped)s"), {"stamped": isoformat_utc(gen_time)}
    if abs(gen_time - manifest.signed_at) > SIGNING_TIME_TOLERANCE:
        return N_("the time-stamp (%(stamped)s) does not match the signing time in the manifest (%(signed)s)"), {
            "stamped": isoformat_utc(gen_time), "signed": isoformat_utc(manifest.signed_at)}
    return None


def verify_stored(session: Session, signature: Signature, trust: Trust | None) -> Verdict:
    """Verify one stored signature against the rows it claims (document, version, credential)."""
    if trust is None:
        return _invalid(N_("cannot be verified: the organisation PKI is not available"))
    version = session.get(dm.DocumentVersion, signature.version_id)
    document = session.get(dm.Document, version.document_id) if version is not None else None
    credential = session.get(SigningCredential, signature.credential_id)
    return verify_signature(signature, document=document, version=version, credential=credential, trust=trust)


def trust_from(session: Session, anchors: TrustAnchors, crls: Sequence[x509.CertificateRevocationList] = ()) -> Trust:
    return Trust(anchors, dict(revocations(session)), tuple(crls))
