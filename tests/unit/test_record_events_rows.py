"""One malformed row in a cross-check is reported and the check goes on (never "could not run")."""
from __future__ import annotations

from types import SimpleNamespace

from edms.application.record_events import _each
from edms.audit.integrity import VerificationReport, VerificationRun
from edms.timeutil import utc_now


def test_a_malformed_row_is_reported_and_the_next_rows_are_checked():
    report = VerificationReport(started_at=utc_now())
    run = VerificationRun(SimpleNamespace(dialect=SimpleNamespace(name="sqlite")), report, {})
    seen = []

    def check(row):
        if row.id == 2:
            raise ValueError("not a number")
        seen.append(row.id)

    _each(run, "documents", [SimpleNamespace(id=1), SimpleNamespace(id=2), SimpleNamespace(id=3)], check)
    assert seen == [1, 3]
    assert report.problem_count == 1
    assert report.problems[0].describe() == "documents #2: malformed row, not checked (ValueError: not a number)"
