"""Periodic review of the audit trail by quality assurance (EU GMP Annex 11 §9, MHLW ER/ES guideline).

A review covers a stretch of the chain (seq from–to, and so the times of those events), states what was
found and concludes. Reviews are append-only; the reviewer's electronic signature on a review comes with
the signature ceremony.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.audit.context import AuditContext
from edms.audit.models import AuditEvent, AuditReview
from edms.audit.record import record
from edms.audit.search import head_seq
from edms.errors import N_, UserError
from edms.timeutil import isoformat_utc, utc_now

REVIEWED_ACTION = "audit.reviewed"
OUTCOMES = {
    "no_findings": N_("No findings: the audit trail is complete and consistent"),
    "findings_no_impact": N_("Findings recorded, without impact on data integrity"),
    "deviation": N_("Findings that need a deviation and CAPA"),
}
MAX_FINDINGS = 20000


class ReviewError(UserError):
    pass


def next_range(session: Session) -> tuple[int, int]:
    """The stretch not yet reviewed: after the furthest reviewed seq, up to the head now."""
    reviewed = session.scalar(select(AuditReview.to_seq).order_by(AuditReview.to_seq.desc()).limit(1)) or 0
    head = head_seq(session)
    return min(reviewed + 1, head), head


def record_review(session: Session, ctx: AuditContext, *, from_seq: int, to_seq: int, outcome: str,
                  findings: str) -> AuditReview:
    """Record the review by `ctx`'s person; whether they may review (quality assurance) is decided by the
    use case that calls this, since the audit trail knows no roles."""
    if outcome not in OUTCOMES:
        raise ReviewError(N_("Choose the outcome of the review."))
    findings = findings.strip()
    if not findings:
        raise ReviewError(N_("Describe what was reviewed and found; write 'none' if nothing was found."))
    if len(findings) > MAX_FINDINGS:
        raise ReviewError(N_("The findings are too long (%(max)s characters at most)."), max=MAX_FINDINGS)
    if not 1 <= from_seq <= to_seq:
        raise ReviewError(N_("The reviewed range must start at seq 1 or later and not end before it starts."))
    first = session.get(AuditEvent, from_seq)
    last = session.get(AuditEvent, to_seq)
    if first is None or last is None:
        raise ReviewError(N_("The audit trail has no event with seq %(seq)s."), seq=from_seq if first is None else to_seq)
    review = AuditReview(
        reviewed_at=utc_now(), reviewer_id=ctx.user_id, reviewer_name=ctx.user_name,
        from_seq=from_seq, to_seq=to_seq, period_start=first.occurred_at, period_end=last.occurred_at,
        outcome=outcome, findings=findings,
    )
    session.add(review)
    session.flush()
    record(session, ctx, REVIEWED_ACTION, "audit_review", review.id, changes={
        "from_seq": {"old": None, "new": from_seq},
        "to_seq": {"old": None, "new": to_seq},
        "period": {"old": None, "new": f"{isoformat_utc(first.occurred_at)} – {isoformat_utc(last.occurred_at)}"},
        "outcome": {"old": None, "new": outcome},
        "findings": {"old": None, "new": findings},
    })
    return review


def list_reviews(session: Session, limit: int = 200) -> list[AuditReview]:
    return list(session.scalars(select(AuditReview).order_by(AuditReview.id.desc()).limit(limit)))
