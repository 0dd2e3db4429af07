"""What a regime is: the records a case needs, the conditions deciding them, and the regulators' clocks.

Plain frozen values built by the loader (`loading`); the gates (`gates`) and the case's facts
(`facts`) read them. Code never names a document type here.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from edms.definitions import LocalizedText
from edms.documents.types import DocumentType, FieldDef

JURISDICTIONS = ("EU", "US", "JP")

# Safety specifications are never waived in any regime (issue 6): an OOS result on one of these tests,
# or a record whose `safety = true` field is answered yes, blocks release.
SAFETY_TESTS = frozenset({"sterility", "endotoxin", "mycoplasma"})


def is_safety_test(test_key: str) -> bool:
    return test_key in SAFETY_TESTS


# The case's own dates a clock may start from or be met by, written `case.<name>` in a regime.
CASE_DATES: dict[str, LocalizedText] = {
    "oos_detected": LocalizedText("OOS result detected", "規格外結果の判明"),
    "decision": LocalizedText("Decision to use the OOS lot", "規格外ロット使用の決定"),
    "planned_administration": LocalizedText("Planned administration", "投与予定"),
    "supply": LocalizedText("Lot supplied to the treating site", "実施医療機関へのロットの供給"),
    "administration": LocalizedText("Administration", "投与"),
}

UNITS = ("hours", "calendar_days", "working_days")
DIRECTIONS = ("not_after", "not_before")
DEFAULT_WARN_BEFORE = timedelta(hours=24)


class RegimeError(ValueError):
    """A regime definition is invalid; the message names the file and the field path."""


@dataclass(frozen=True)
class FieldTest:
    """A test on one field of an approved record: its value is one of `equals`, or (for a multichoice)
    it includes every value that `includes_all_of` (type key, field) holds in the case's approved records.

    An `outcome` test reads a decision (consent given, release, proceed): a record of the other outcome is a
    true record that keeps the gate closed. Every other test is a requirement on what the record is (what
    the committee reviewed, which authority was told): a record failing it can never open the gate, so it
    is refused at submission (`requirements`)."""

    type_key: str
    field: FieldDef
    equals: tuple[object, ...] = ()
    includes_all_of: tuple[str, FieldDef] | None = None
    outcome: bool = False


@dataclass(frozen=True)
class Condition:
    """A yes/no fact about the case that decides whether a record or a clock applies. Either a question
    someone answers on the case (`asked_of` a role) or read from an approved record (`answered_by`)."""

    key: str
    question: LocalizedText
    if_yes: LocalizedText
    if_no: LocalizedText | None
    asked_of: str | None
    answered_by: FieldTest | None


@dataclass(frozen=True)
class ConditionRef:
    condition: Condition
    expected: bool  # False for applies_unless

    @property
    def text(self) -> LocalizedText:
        text = self.condition.if_yes if self.expected else self.condition.if_no
        assert text is not None, "the loader requires if_no wherever applies_unless is used"
        return text

    def evaluate(self, conditions: Mapping[str, bool | None]) -> bool | None:
        """True or False, or None while the condition is not answered."""
        answer = conditions.get(self.condition.key)
        return None if answer is None else answer == self.expected


@dataclass(frozen=True)
class Retention:
    """How long a record must be kept, from when, and why: `years` whole years after the moment `start`
    names (a case date `case.<date>`, or `record.approved`, the approval of the record's version)."""

    key: str  # "retention" for the regime's, "<type>.retention" for a record type's own
    years: int
    start: str
    start_label: LocalizedText
    source: str
    assumption: bool
    note: str | None

    @property
    def period(self) -> LocalizedText:
        return LocalizedText(f"{self.years} year{'' if self.years == 1 else 's'} from {self.start_label.en.lower()}",
                             f"{self.start_label.ja}から{self.years}年")


@dataclass(frozen=True)
class RegimeDocument:
    type_key: str
    document_type: DocumentType
    prerequisites: tuple[str, ...]
    condition: ConditionRef | None
    satisfied_when: tuple[FieldTest, ...]
    source: str
    assumption: bool
    note: str | None
    # Where this record's retention differs from the regime's; `Regime.retention_of` gives the one that applies.
    retention: Retention | None = None

    @property
    def required(self) -> bool:
        return self.condition is None

    @property
    def condition_text(self) -> LocalizedText | None:
        return None if self.condition is None else self.condition.text

    @property
    def roles(self) -> tuple[str, ...]:
        """The signing roles, in step order, as the document type defines them."""
        return tuple(dict.fromkeys(role for step in self.document_type.steps for role in step.roles))


@dataclass(frozen=True)
class Anchor:
    """A moment a clock starts from or is met by: a case date (`case.administration`) or a datetime
    field of a record of the case, optionally of records with one choice value
    (`regulatory_notification[authority=ema].notified_at`)."""

    text: str
    label: LocalizedText
    type_key: str | None
    name: str
    where: tuple[str, str] | None = None

    def matches(self, record: CaseRecord) -> bool:
        if record.type_key != self.type_key:
            return False
        return self.where is None or record.values.get(self.where[0]) == self.where[1]


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: str  # one of UNITS

    def __str__(self) -> str:
        words = {"hours": "hour", "calendar_days": "calendar day", "working_days": "working day"}[self.unit]
        return f"{self.amount} {words}{'' if self.amount == 1 else 's'}"


@dataclass(frozen=True)
class Deadline:
    key: str
    label: LocalizedText
    anchor: Anchor
    offset: Duration
    direction: str  # not_after: the met_by event must come by due time; not_before: not earlier than it
    met_by: Anchor
    condition: ConditionRef | None
    # Computed once per record of the anchor's type (e.g. each adverse event), not once per case.
    per_record: bool
    warn_before: timedelta
    source: str
    assumption: bool
    note: str | None
    # Also warn when `offset` has passed since this moment, where sources count the same clock from an
    # earlier moment (EU: 48 hours from supply in Sasai et al., from administration in the EMA Q&A).
    warn_from: Anchor | None = None

    @property
    def record_type(self) -> str | None:
        return self.anchor.type_key if self.per_record else None


@dataclass(frozen=True)
class Regime:
    key: str
    jurisdiction: str
    name: LocalizedText
    description: LocalizedText
    default: bool
    variant_of: str | None
    source: str
    release: str
    holidays: frozenset[date]
    conditions: Mapping[str, Condition]
    documents: tuple[RegimeDocument, ...]
    deadlines: tuple[Deadline, ...]
    path: Path
    source_sha256: str
    retention: Retention | None = None  # the loader requires it; None only for regimes built in code

    def retention_of(self, type_key: str) -> Retention | None:
        """The retention of a record of this type: its own where the regime declares one, else the regime's."""
        for document in self.documents:
            if document.type_key == type_key and document.retention is not None:
                return document.retention
        return self.retention

    def document(self, type_key: str) -> RegimeDocument:
        for document in self.documents:
            if document.type_key == type_key:
                return document
        raise KeyError(f"regime '{self.key}' has no document '{type_key}'")

    @property
    def assumptions(self) -> tuple[RegimeDocument | Deadline | Retention, ...]:
        steps: tuple[RegimeDocument | Deadline, ...] = (*self.documents, *self.deadlines)
        retentions = (self.retention, *(document.retention for document in self.documents))
        return tuple(step for step in steps if step.assumption) + tuple(
            retention for retention in retentions if retention is not None and retention.assumption)


@dataclass(frozen=True)
class CaseRecord:
    """One record of the case as a regime sees it: its clean values (as `DocumentType.validate` returns
    them) and whether this version is approved (every signature step signed). Pass the approved version
    of each record, or the latest draft of a record that has none yet."""

    type_key: str
    values: Mapping[str, object]
    approved: bool

