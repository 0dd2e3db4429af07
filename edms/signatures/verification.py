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
from collections.abc import Sequence
from typing import cast

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy.orm import Session

from edms.documents import models as dm
from edms.documents.queries import version_hash
from edms.errors import N_
from edms.pki.store import TrustAnchors
from edms.signatures import stamped_check, verdict
from edms.signatures.keys import revocations
from edms.signatures.models import Signature, SigningCredential

# The judgement itself, shared with the verification run's workers (no SQLAlchemy there).
from edms.signatures.verdict import (  # noqa: F401 (re-exported: what callers import from here)
    VALID,
    CredentialFields,
    DocumentFields,
    SignatureFields,
    Trust,
    Verdict,
    VersionFields,
    _Crypto,
    _invalid,
    crypto_of,
)

CACHE_SIZE = 20_000


_cache: OrderedDict[bytes, _Crypto] = OrderedDict()
_cache_lock = threading.Lock()


def _cache_key(signature: SignatureFields, trust: Trust) -> bytes:
    digest = hashlib.sha256()
    for part in (signature.manifest, signature.cms, signature.timestamp_response):
        digest.update(hashlib.sha256(part).digest())
    for cert in (*trust.anchors.roots, *trust.anchors.tsa_roots):
        digest.update(cert.fingerprint(hashes.SHA256()))
    for crl in trust.crls:
        digest.update(hashlib.sha256(crl.public_bytes(Encoding.DER)).digest())
    return digest.digest()


def _crypto(signature: SignatureFields, trust: Trust) -> _Crypto:
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


def _check_crypto(signature: SignatureFields, trust: Trust) -> _Crypto:
    return crypto_of(stamped_check.check(signature.cms, signature.timestamp_response, signature.manifest,
                                         trust.anchors.roots, trust.anchors.tsa_roots, trust.crls))


def verify_signature(signature: SignatureFields, *, document: DocumentFields | None, version: VersionFields | None,
                     credential: CredentialFields | None, trust: Trust, crypto: _Crypto | None = None,
                     content_sha256: str | None = None) -> Verdict:
    """The verdict on `signature` as the record it claims. `crypto` (from `crypto_of`) and `content_sha256`
    (the version's hash recomputed in this run) are given by a verification run that computed them
    itself; otherwise they are computed here (from the ORM rows), the cryptography through the in-process
    cache."""
    return verdict.verify_signature(
        signature, document=document, version=version, credential=credential, trust=trust,
        crypto=(lambda: _crypto(signature, trust)) if crypto is None else crypto,
        content_sha256=(lambda: version_hash(cast(dm.Document, document), cast(dm.DocumentVersion, version)))
        if content_sha256 is None else content_sha256)


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
