"""Case regimes as data: one TOML file per regime in `forms/regimes/`, validated strictly at start-up.

A regime is one jurisdiction's rules for supplying an OOS lot: the records the case needs, the order in
which they may be signed (gates), the conditions under which a record is needed, and the regulators'
clocks. Code interprets it and never names a document type; every problem in a definition is reported
with the file and the field path. The schema is described in docs/regimes.md.

- `model`: what a regime is (frozen values) and the case records it reads;
- `parsing`: reading the parts of one regime file; `loading`: the files, and checks across them;
- `gates`: whether a record may be signed or the lot administered, and the case's checklist;
- `facts`: the case's condition answers and anchor moments, as the clocks in `cases.deadlines` need them.
"""
from edms.cases.regimes.facts import resolve_anchors, resolve_conditions
from edms.cases.regimes.gates import (
    Blocker,
    ChecklistItem,
    administration_blockers,
    checklist,
    safety_blockers,
    signing_blockers,
)
from edms.cases.regimes.loading import default_regime, load_regimes
from edms.cases.regimes.model import (
    CASE_DATES,
    SAFETY_TESTS,
    CaseRecord,
    Deadline,
    Regime,
    RegimeDocument,
    RegimeError,
    is_safety_test,
)

__all__ = [
    "CASE_DATES",
    "SAFETY_TESTS",
    "Blocker",
    "CaseRecord",
    "ChecklistItem",
    "Deadline",
    "Regime",
    "RegimeDocument",
    "RegimeError",
    "administration_blockers",
    "checklist",
    "default_regime",
    "is_safety_test",
    "load_regimes",
    "resolve_anchors",
    "resolve_conditions",
    "safety_blockers",
    "signing_blockers",
]
