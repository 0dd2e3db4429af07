"""Acts on the audit trail itself: a QA review of a range, a verification run, a checkpoint made now, and
an export (recorded before it streams)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from edms.application.integrity import run_integrity_checks
from edms.application.services import Services
from edms.application.unit_of_work import complete, use_case
from edms.audit import AuditContext, reviews
from edms.audit.checkpoints import create_checkpoint
from edms.audit.integrity import VerificationReport
from edms.audit.models import AuditCheckpoint, AuditReview
from edms.audit.operations import record_export
from edms.audit.search import AuditFilter
from edms.errors import N_
from edms.pki import TrustAnchors
from edms.users.models import User
from edms.users.roles import QA


def review(services: Services, session: Session, ctx: AuditContext, reviewer: User, *, from_seq: int, to_seq: int,
           outcome: str, findings: str) -> AuditReview:
    """A QA review of the audit trail from `from_seq` to `to_seq` (EU GMP Annex 11 §9)."""
    if not reviewer.has_role(QA):
        raise reviews.ReviewError(N_("Only quality assurance can record an audit-trail review."))
    with use_case(session):
        return reviews.record_review(session, ctx, from_seq=from_seq, to_seq=to_seq, outcome=outcome,
                                     findings=findings)


def verify(services: Services, session: Session, ctx: AuditContext, trust: TrustAnchors | None, *,
           signature_workers: int = 0) -> VerificationReport:
    """Verify everything against `trust` (None: no PKI) and record who ran it and what it found.

    `signature_workers`: processes judging the signatures' cryptography on a large archive (the command
    line asks for one per CPU; see `edms.signatures.verification_run`); with them, the audit chain check runs
    alongside the other checks, on a second connection in the same snapshot (`edms.audit.integrity.run_checks`)."""
    with use_case(session):
        return run_integrity_checks(services.engine, session, ctx, trust=trust, data_dir=services.settings.data_dir,
                                    blobs=services.blobs, witness_file=services.settings.witness_path,
                                    regimes=services.regimes, document_types=services.document_types,
                                    signature_workers=signature_workers, chain_alongside=signature_workers > 0)


def checkpoint(services: Services, session: Session, ctx: AuditContext) -> AuditCheckpoint:
    """Sign and time-stamp the chain's head now."""
    with use_case(session):
        return create_checkpoint(session, ctx, services.system_signer())


def start_export(services: Services, session: Session, ctx: AuditContext, flt: AuditFilter, export_format: str) -> int:
    """Record the export and commit it, so that the export (read from a snapshot) includes its own event.
    Returns the last seq the export covers."""
    with use_case(session):
        through = record_export(session, ctx, flt, export_format)
    complete(session)
    return through
