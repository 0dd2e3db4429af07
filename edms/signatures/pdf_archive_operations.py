"""Keeping a signed PDF verifiable for the retention period (PAdES B-LTA renewal, ETSI EN 319 142-1):
before its newest document time-stamp's certificate chain expires, or when an algorithm it uses is (or
will be within the margin) retired, the validation data that time-stamp needs (its TSA's chain and fresh
CRLs, in the Document Security Store) and a new document time-stamp over the whole file. Each is an
incremental update (earlier bytes never change), stored as a new revision and audited with why it was due.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from itertools import pairwise

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from sqlalchemy.orm import Session

from edms.audit import AuditContext
from edms.crypto.pades import Timestamp, add_document_timestamp
from edms.crypto.pades_archive import DocumentTimestampFacts, newest_document_timestamp, newest_timestamp_problem
from edms.documents import models as dm
from edms.documents.blobstore import BlobStore
from edms.documents.operations import append_pdf_revision
from edms.documents.pdf_models import DOCUMENT_TIMESTAMP, SignedPdfRevision
from edms.documents.pdf_queries import signed_pdf
from edms.pki.evidence import RENEW_BEFORE
from edms.pki.store import ROOT, SIGNING_CA, TSA, PkiError, PkiStore
from edms.verifier.chain import describe, utc
from edms.verifier.errors import Invalid

CrlSource = Callable[[x509.Certificate, x509.Certificate], x509.CertificateRevocationList]


def known_certificates(store: PkiStore, extra: Sequence[x509.Certificate] = ()) -> list[x509.Certificate]:
    """The organisation's certificates, current and retired, and `extra` (an external TSA's roots): where a
    time-stamp's chain is looked for when its token does not carry all of it."""
    return [*(cert for name in (ROOT, TSA, SIGNING_CA)
              for cert in (store.certificate(name), *store.retired_certificates(name))), *extra]


def tsa_chain(facts: DocumentTimestampFacts, known: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """The time-stamp's TSA certificate up to its (self-signed) root."""
    chain = [facts.tsa]
    pool = [*facts.certificates, *known]
    while chain[-1].issuer != chain[-1].subject:
        issuer = next((cert for cert in pool if _issued_by(chain[-1], cert)), None)
        if issuer is None or issuer in chain:
            raise PkiError(f"the issuer of {describe(chain[-1])} is not known to edms")
        chain.append(issuer)
    return chain


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def renewal_due(facts: DocumentTimestampFacts, chain: Sequence[x509.Certificate], now: datetime,
                renew_before: timedelta, retired: Mapping[str, datetime]) -> str | None:
    """Why a new document time-stamp is due now, or None. Raises Invalid when the newest time-stamp's chain
    has already expired: the PDF's evidence no longer holds and is never silently extended."""
    expires = min(cert.not_valid_after_utc for cert in chain)
    stamp = f"the document time-stamp of {describe(facts.tsa)} made {utc(facts.gen_time)}"
    if expires <= now:
        raise Invalid(f"the certificate chain of {stamp} expired on {utc(expires)}: too late to renew it")
    if expires - now <= renew_before:
        return f"archive document time-stamp: the certificate chain of {stamp} expires on {utc(expires)}"
    algorithms = set(facts.algorithms) | {cert.signature_algorithm_oid.dotted_string for cert in chain}
    for algorithm in sorted(algorithms):
        since = retired.get(algorithm)
        if since is not None and since - now <= renew_before:
            return f"archive document time-stamp: the algorithm {algorithm} of {stamp} is retired from {utc(since)}"
    return None


def archive_signed_pdf(session: Session, ctx: AuditContext, blobs: BlobStore, version: dm.DocumentVersion, *,
                       timestamp: Timestamp, now: datetime, crl_source: CrlSource,
                       known: Sequence[x509.Certificate], roots: Sequence[x509.Certificate],
                       renew_before: timedelta = RENEW_BEFORE,
                       retired: Mapping[str, datetime] | None = None) -> SignedPdfRevision | None:
    """Add the validation data and a new document time-stamp to the version's signed PDF if one is due;
    None when none is (or the PDF has no document time-stamp yet: sealing it is the final state's job).
    Raises Invalid when the evidence no longer holds or the new time-stamp does not verify against `roots`
    (the organisation's and the external TSA's) at `now`: nothing is stored then."""
    pdf = signed_pdf(session, blobs, version)
    facts = None if pdf is None else newest_document_timestamp(pdf)
    if pdf is None or facts is None:
        return None
    chain = tsa_chain(facts, known)
    reason = renewal_due(facts, chain, now, renew_before, retired or {})
    if reason is None:
        return None
    crls = [crl_source(cert, issuer) for cert, issuer in pairwise(chain)]
    stamped = add_document_timestamp(pdf, timestamp, certs=chain, crls=crls)
    problem = newest_timestamp_problem(stamped, roots, now)
    if problem is not None:
        raise Invalid(problem)
    document = session.get(dm.Document, version.document_id)
    if document is None:
        return None
    return append_pdf_revision(session, ctx, blobs, document, version, stamped, DOCUMENT_TIMESTAMP, reason=reason)
