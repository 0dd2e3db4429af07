"""The integrity run (`edms verify`, the audit verification page, `GET /api/v1/audit/verify`): which checks
it makes, in which order, composed here once by import, and the run that records who ran it.

The audit chain is first: later checks use where it ends (`run.state`); run alongside the others (`edms verify`),
the one that does (`after_chain`) waits for it.
"""
from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from edms.application.case_deadlines import check_case_deadlines
from edms.application.record_events import check_creating_events, check_submitted_hashes
from edms.audit.checkpoints import check_checkpoints
from edms.audit.context import AuditContext
from edms.audit.integrity import Check, VerificationReport, check_audit_chain, run_checks
from edms.audit.operations import record_verification
from edms.audit.witness_check import check_witness
from edms.documents.integrity import check_stored_files, check_version_hashes
from edms.errors import N_
from edms.signatures.archive_check import check_archive_timestamps
from edms.signatures.verification_run import check_signatures

CHECKS: tuple[Check, ...] = (
    Check("audit_chain", check_audit_chain,
          N_("Audit trail: every event's hash, the links between events, no gaps, time never decreasing")),
    Check("audit_checkpoints", check_checkpoints,
          N_("Audit trail checkpoints: system signature and time-stamp of the chain head, chain not truncated or "
             "rewritten"), after_chain=True),
    Check("document_versions", check_version_hashes,
          N_("Documents: every frozen version's content hash recomputed from its stored content and attachments")),
    Check("stored_files", check_stored_files,
          N_("Stored files: every attachment's and frozen rendition's bytes re-hashed and compared with the hash it "
             "was stored under")),
    Check("signatures", check_signatures,
          N_("Electronic signatures: time-stamp, CMS signature, certificate chain and revocation at the stamped "
             "time, signer identity, link to the version's recomputed content hash")),
    Check("archive_timestamps", check_archive_timestamps,
          N_("Archive time-stamps: each signature's RFC 4998 evidence record verifies today, each addition audited")),
    Check("record_events", check_creating_events,
          N_("Records against the audit trail: every document, version, case, delegation, signature and user has "
             "the audit event that created it")),
    Check("recorded_hashes", check_submitted_hashes,
          N_("Frozen versions and files against the audit trail: each content hash is the one recorded at submission, "
             "each attachment's hash one recorded at an upload")),
    Check("case_deadlines", check_case_deadlines,
          N_("Cases: each stored next deadline is the one computed from the case's dates, answers and records")),
    Check("audit_witness", check_witness,
          N_("Audit trail witness: the Merkle tree of the events gives every signed tree head held outside the "
             "database, successive heads are consistent; events not yet witnessed are a warning")),
)


def check_integrity(engine: Engine, *, only: Collection[str] | None = None, **options: Any) -> VerificationReport:
    """Every check of `CHECKS` (or those named in `only`) on one read-only snapshot; records nothing.

    `options` are handed to the checks: `trust=` (see `edms.pki.TrustAnchors`) for signatures and
    checkpoints, `blobs=` (the configured store) or `data_dir=` for stored files, `witness_file=` for the
    witness, `batch_size=`."""
    return run_checks(engine, CHECKS, only=only, **options)


def run_integrity_checks(engine: Engine, session: Session, ctx: AuditContext, *, only: Collection[str] | None = None,
                         **options: Any) -> VerificationReport:
    """Verify everything (on a snapshot of its own), then record in `session` who ran it and what it found."""
    report = check_integrity(engine, only=only, **options)
    record_verification(session, ctx, report)
    return report
