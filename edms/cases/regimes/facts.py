"""The case's facts as a regime reads them: the answer to each of its conditions and the moment of each
anchor its clocks start from or are met by."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from edms.cases.regimes.model import CASE_DATES, CaseRecord, Regime
from edms.timeutil import require_aware


def resolve_conditions(regime: Regime, *, answers: Mapping[str, bool | None],
                       records: Iterable[CaseRecord]) -> dict[str, bool | None]:
    """Every condition of the regime: case questions from `answers`, the others from approved records
    (True when any approved record passes the test; None while there is none)."""
    unknown = sorted(set(answers) - {key for key, c in regime.conditions.items() if c.asked_of is not None})
    if unknown:
        raise ValueError(f"regime '{regime.key}' asks no question {', '.join(unknown)}")
    case_records = [record for record in records if record.approved]
    resolved: dict[str, bool | None] = {}
    for key, condition in regime.conditions.items():
        test = condition.answered_by
        if test is None:
            resolved[key] = answers.get(key)
            continue
        values = [record.values.get(test.field.name) for record in case_records if record.type_key == test.type_key]
        resolved[key] = any(value in test.equals for value in values) if values else None
    return resolved


def resolve_anchors(regime: Regime, *, case_dates: Mapping[str, datetime | None],
                    records: Iterable[CaseRecord]) -> dict[str, datetime | None]:
    """The moment of every anchor the regime's deadlines use, keyed by its text, in UTC.

    A clock starts from the earliest matching record, draft or approved (a clock shown early is safer
    than one shown late); it is met only by an approved record. For a per-record deadline pass the
    one record it is computed for.
    """
    unknown = sorted(set(case_dates) - set(CASE_DATES))
    if unknown:
        raise ValueError(f"unknown case date(s): {', '.join(unknown)} (expected {', '.join(CASE_DATES)})")
    case_records = list(records)
    resolved: dict[str, datetime | None] = {}
    for deadline in regime.deadlines:
        moments_of = [(deadline.anchor, False), (deadline.met_by, True)]
        if deadline.warn_from is not None:
            moments_of.append((deadline.warn_from, False))
        for anchor, approved_only in moments_of:
            if anchor.type_key is None:
                moment = case_dates.get(anchor.name)
                resolved[anchor.text] = None if moment is None else require_aware(moment)
                continue
            moments = []
            for record in case_records:
                value = record.values.get(anchor.name)
                if anchor.matches(record) and value is not None and (record.approved or not approved_only):
                    if not isinstance(value, datetime):
                        raise TypeError(f"{record.type_key}.{anchor.name}: expected a datetime, got {value!r}")
                    moments.append(require_aware(value))
            resolved[anchor.text] = min(moments, default=None)
    return resolved
