"""State changes of the routing: the audited refusal of a submission that could never be completed."""
from __future__ import annotations

from sqlalchemy.orm import Session

from edms.audit import AuditContext, record
from edms.documents import models as dm
from edms.errors import N_
from edms.workflow.completability import BlockedStep, summary
from edms.workflow.refusals import SubmissionRefused


def blocked_json(blocked: BlockedStep) -> dict[str, object]:
    """The blocked step as the audit trail and the API carry it (English, with the machine codes)."""
    return {
        "step": blocked.step.name, "step_label": blocked.step.label.en, "remaining": blocked.remaining,
        "missing": blocked.missing.text.en,
        "people": [{"user_id": o.user_id or None, "printed_name": o.printed_name or None,
                    "reasons": [r.code for r in o.reasons], "explanation": "; ".join(r.text.en for r in o.reasons)}
                   for o in blocked.obstacles],
        "advice": [{"code": a.code, "text": a.text.en} for a in blocked.advice],
    }


def refuse_submission(session: Session, ctx: AuditContext, document: dm.Document, draft: dm.DocumentVersion,
                      blocked: BlockedStep) -> SubmissionRefused:
    """Record the refusal (nothing else changes) and return the error to raise."""
    text = summary(blocked)
    record(session, ctx, "document.submission_refused", "document", document.id, document_version=draft.version,
           case_id=document.case_id, reason=text.en, changes={"not_completable": {"old": None, "new": blocked_json(blocked)}})
    return SubmissionRefused(N_("This version cannot be submitted: %(why)s"), blocked=blocked, why=text)
