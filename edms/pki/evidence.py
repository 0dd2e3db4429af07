"""Deciding and making the next archive time-stamp of a detached signature (RFC 4998, see
`edms.verifier.evidence`), with the validation data the layer it covers needs.

When one is due, judged at `now`:
- a signature without archive time-stamps gets its first at once: it captures the certificates and the
  CRLs of the signer's chain and of its time-stamp's chain while every CA can still issue them;
- afterwards a new one when the newest time-stamp's certificate chain expires within `renew_before`, or
  when one of its algorithms is retired (or will be within `renew_before`).
The evidence is verified first (`edms.verifier.archive`), at `now`: an archive time-stamp is never added
to evidence that no longer holds.
"""
from __future__ import annotations

import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from edms.crypto.archive import Timestamper, first_archive_stamp, renewal_archive_stamp, validation_data
from edms.pki.lifecycle import issue_crl
from edms.pki.store import PkiError, PkiStore
from edms.verifier.archive import Layer, LongTerm, verify_long_term
from edms.verifier.chain import describe, utc
from edms.verifier.der import read_one
from edms.verifier.evidence import decode_archive_stamp, encode_evidence_record

RENEW_BEFORE = timedelta(days=365)
CRL_FETCH_TIMEOUT_SECONDS = 10.0

CrlSource = Callable[[x509.Certificate, x509.Certificate], x509.CertificateRevocationList]


@dataclass(frozen=True)
class NextStamp:
    archive_stamp: bytes  # the new ArchiveTimeStamp, DER
    reason: str
    covers: Layer  # the layer of evidence it protects


def evidence_record(stamps: Sequence[bytes]) -> bytes | None:
    return encode_evidence_record(stamps) if stamps else None


def due(evidence: LongTerm, now: datetime, renew_before: timedelta, retired: Mapping[str, datetime]) -> str | None:
    """Why a new archive time-stamp is due now, or None."""
    newest = evidence.layers[-1]
    if evidence.archive_count == 0:
        return "first archive time-stamp: the validation data of the signature and its time-stamp"
    if newest.expires - now <= renew_before:
        return f"the certificate chain of {newest.name} expires on {utc(newest.expires)}"
    for algorithm in newest.algorithms:
        since = retired.get(algorithm)
        if since is not None and since - now <= renew_before:
            return f"the algorithm {algorithm} of {newest.name} is retired from {utc(since)}"
    return None


def next_archive_stamp(store: PkiStore, manifest: bytes, cms: bytes, stamp: bytes, stamps: Sequence[bytes], *,
                       timestamp: Timestamper, now: datetime, revoked: Sequence[tuple[int, datetime]] = (),
                       tsa_roots: Sequence[x509.Certificate] | None = None, crl_source: CrlSource | None = None,
                       renew_before: timedelta = RENEW_BEFORE,
                       retired: Mapping[str, datetime] | None = None) -> NextStamp | None:
    """The next ArchiveTimeStamp of a signature, or None when none is due. Raises Invalid when the evidence
    no longer holds (then only a person can decide what to do), PkiError when a CRL cannot be had."""
    retired = retired or {}
    anchors = store.trust_anchors()
    roots = anchors.roots
    record = evidence_record(stamps)
    evidence = verify_long_term(manifest, cms, stamp, record, roots, at=now,
                                tsa_roots=tsa_roots or anchors.tsa_roots, retired=retired)
    reason = due(evidence, now, renew_before, retired)
    if reason is None:
        return None
    source = crl_source or (lambda cert, issuer: own_or_published_crl(store, cert, issuer, revoked, now))
    newest = evidence.layers[-1]
    chains = [newest.chain] if stamps else [evidence.signature.signed.chain, newest.chain]
    certificates = [cert for chain in chains for cert in chain]
    crls = [source(cert, issuer) for chain in chains for cert, issuer in pairwise(chain)]
    validation = validation_data(certificates, crls)
    if stamps:
        previous = decode_archive_stamp(read_one(stamps[-1]))
        made = renewal_archive_stamp(previous.token, validation, timestamp)
    else:
        made = first_archive_stamp(manifest, cms, stamp, validation, timestamp)
    return NextStamp(made, reason, newest)


class RunCrls:
    """The CRLs of one archiver run: each issuer's issued (or fetched) once and shared by every signature."""

    def __init__(self, store: PkiStore, revoked: Sequence[tuple[int, datetime]], now: datetime) -> None:
        self._store, self._revoked, self._now = store, revoked, now
        self._crls: dict[bytes, x509.CertificateRevocationList] = {}

    def __call__(self, cert: x509.Certificate, issuer: x509.Certificate) -> x509.CertificateRevocationList:
        key = issuer.fingerprint(hashes.SHA256())
        if key not in self._crls:
            self._crls[key] = own_or_published_crl(self._store, cert, issuer, self._revoked, self._now)
        return self._crls[key]


def own_or_published_crl(store: PkiStore, cert: x509.Certificate, issuer: x509.Certificate,
                         revoked: Sequence[tuple[int, datetime]], now: datetime) -> x509.CertificateRevocationList:
    """A fresh CRL of `issuer`: issued now when it is one of the organisation's CAs (current or retired), else
    fetched from `cert`'s CRL distribution point (an external TSA's PKI)."""
    try:
        store.key_of(issuer)
    except PkiError:
        return published_crl(cert, issuer)
    own = [] if issuer.subject == issuer.issuer else list(revoked)
    return issue_crl(store, issuer, own, now)


def published_crl(cert: x509.Certificate, issuer: x509.Certificate) -> x509.CertificateRevocationList:
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        raise PkiError(f"the certificate of {describe(cert)} names no CRL distribution point") from None
    urls = [name.value for point in points for name in (point.full_name or [])
            if isinstance(name, x509.UniformResourceIdentifier) and name.value.startswith(("http://", "https://"))]
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=CRL_FETCH_TIMEOUT_SECONDS) as reply:  # noqa: S310 (http(s) only)
                data = reply.read()
        except OSError:
            continue
        try:
            crl = x509.load_der_x509_crl(data)
        except ValueError:
            crl = x509.load_pem_x509_crl(data)
        if crl.issuer == issuer.subject and crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
            return crl
    raise PkiError(f"no valid CRL of {describe(issuer)} could be fetched from {', '.join(urls) or 'nowhere'}")
