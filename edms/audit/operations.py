"""Acts on the audit trail that are themselves audited: verification runs and exports."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from edms.audit.context import AuditContext
from edms.audit.export import EXPORT_FORMATS
from edms.audit.integrity import VerificationReport
from edms.audit.record import record
from edms.audit.search import AuditFilter, head_seq

VERIFIED_ACTION = "audit.verified"
EXPORTED_ACTION = "audit.exported"


def record_verification(session: Session, ctx: AuditContext, report: VerificationReport) -> None:
    """Record in `session` who ran an integrity run and what it found."""
    record(session, ctx, VERIFIED_ACTION, "audit_trail", None, changes=_new({
        "outcome": "verified" if report.ok else "failed",
        "examined": report.counts,
        "problems": report.problem_count,
        "first_problem": report.first_problem.describe() if report.first_problem else None,
        "chain_head_seq": report.chain_head[0] if report.chain_head else None,
    }))


def record_export(session: Session, ctx: AuditContext, flt: AuditFilter, export_format: str) -> int:
    """Record an export before it streams; returns the last seq it covers (later events are not in it)."""
    if export_format not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {export_format!r}")
    through = head_seq(session)
    record(session, ctx, EXPORTED_ACTION, "audit_trail", None, changes=_new({
        "format": export_format, "filter": flt.describe(), "through_seq": through,
    }))
    return through


def _new(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    # These acts create nothing that existed before: every field is a new value.
    return {name: {"old": None, "new": value} for name, value in values.items()}
