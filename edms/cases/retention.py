"""How long each record of a case must be kept: the regime's retention (or its record type's own), counted in
whole years from the moment it names, at the treating site (21 CFR 11.10(c); docs/regimes.md, "Retention").

Pure: the moments come in, a local end date comes out. A record is kept at least until the end of that day;
edms never deletes a controlled record, so the date is what an archive, a lock or a time-stamp schedule
must honour, not when edms removes anything.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from edms.cases.regimes import Regime
from edms.cases.regimes.model import Retention
from edms.cases.regimes.parsing import RECORD_APPROVED
from edms.definitions import LocalizedText
from edms.timeutil import require_aware


@dataclass(frozen=True)
class RecordRetention:
    number: str
    type_key: str
    rule: Retention
    starts_at: datetime | None  # UTC; None while the moment it runs from is not known
    keep_until: date | None  # the last day, at the treating site

    @property
    def text(self) -> LocalizedText:
        if self.keep_until is None:
            label = self.rule.start_label
            return LocalizedText(f"{self.rule.years} years from {label.en.lower()} (not recorded yet)",
                                 f"{label.ja}から{self.rule.years}年（{label.ja}は未記録）")
        day = self.keep_until.isoformat()
        return LocalizedText(f"until {day}", f"{day} まで")


def add_years(day: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 28 February in a common year (the earlier day is
    never chosen, because a retention period that ends early is the unsafe side: 1 March is)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def retention_end(rule: Retention, start: datetime | None, site_zone: str) -> date | None:
    if start is None:
        return None
    return add_years(require_aware(start).astimezone(ZoneInfo(site_zone)).date(), rule.years)


def record_retention(regime: Regime, *, number: str, type_key: str, case_dates: Mapping[str, datetime],
                     approved_at: datetime | None, site_zone: str) -> RecordRetention | None:
    """One record's retention, or None where the regime declares none (a regime built in code)."""
    rule = regime.retention_of(type_key)
    if rule is None:
        return None
    start = approved_at if rule.start == RECORD_APPROVED else case_dates.get(rule.start.removeprefix("case."))
    return RecordRetention(number, type_key, rule, start, retention_end(rule, start, site_zone))
