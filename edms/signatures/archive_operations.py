"""Adding an archive time-stamp to a detached signature, audited (see `edms.pki.evidence` for when one is
due and what it holds, `edms.verifier.archive` for how it is judged)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from cryptography import x509
from sqlalchemy.orm import Session

from edms.audit import AuditContext, record
from edms.crypto.archive import Timestamper
from edms.documents import models as dm
from edms.pki.evidence import RENEW_BEFORE, CrlSource, next_archive_stamp
from edms.pki.store import PkiStore
from edms.signatures.archive_models import ArchiveTimestamp
from edms.signatures.archive_queries import archive_stamps
from edms.signatures.models import Signature
from edms.timeutil import isoformat_utc
from edms.verifier.archive import verify_long_term
from edms.verifier.chain import describe
from edms.verifier.evidence import encode_evidence_record


def archive_signature(session: Session, ctx: AuditContext, store: PkiStore, signature: Signature, *,
                      timestamp: Timestamper, now: datetime, revoked: Sequence[tuple[int, datetime]] = (),
                      tsa_roots: Sequence[x509.Certificate] | None = None, crl_source: CrlSource | None = None,
                      renew_before: timedelta = RENEW_BEFORE,
                      retired: Mapping[str, datetime] | None = None) -> ArchiveTimestamp | None:
    """Add the signature's next archive time-stamp if one is due; None when none is. Raises
    `edms.verifier.errors.Invalid` when its evidence no longer holds, PkiError when no CRL can be had."""
    stamps = archive_stamps(session, signature.id)
    made = next_archive_stamp(store, signature.manifest, signature.cms, signature.timestamp_response, stamps,
                              timestamp=timestamp, now=now, revoked=revoked, tsa_roots=tsa_roots,
                              crl_source=crl_source, renew_before=renew_before, retired=retired)
    if made is None:
        return None
    anchors = store.trust_anchors()
    # Judged once more with the new stamp, before it is stored: edms never stores evidence it cannot verify.
    after = verify_long_term(signature.manifest, signature.cms, signature.timestamp_response,
                             encode_evidence_record([*stamps, made.archive_stamp]), anchors.roots, at=now,
                             tsa_roots=tsa_roots or anchors.tsa_roots, retired=retired)
    newest = after.layers[-1]
    row = ArchiveTimestamp(signature_id=signature.id, seq=len(stamps) + 1, archive_stamp=made.archive_stamp,
                           timestamped_at=newest.gen_time, tsa_subject=newest.chain[0].subject.rfc4514_string(),
                           valid_until=after.valid_until, reason=made.reason, created_at=now)
    session.add(row)
    version = session.get(dm.DocumentVersion, signature.version_id)
    document = session.get(dm.Document, signature.document_id)
    record(session, ctx, "signature.archive_timestamped", "document", signature.document_id,
           document_version=version.version if version is not None else signature.version,
           case_id=document.case_id if document is not None else None, reason=made.reason,
           changes={"archive_timestamp": {"old": None, "new": {
               "signature_id": signature.signature_id, "seq": row.seq, "timestamped_at": isoformat_utc(row.timestamped_at),
               "tsa": describe(newest.chain[0]), "covers": made.covers.name,
               "valid_until": isoformat_utc(row.valid_until)}}})
    return row
