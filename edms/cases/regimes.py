"""Case regimes as data: one TOML file per regime in `forms/regimes/`, validated strictly at start-up.

A regime is one jurisdiction's rules for supplying an OOS lot: the records the case needs, the order in
which they may be signed (gates), the conditions under which a record is needed, and the regulators'
clocks. Code interprets it and never names a document type; every problem in a definition is reported
with the file and the field path. The schema is described in docs/regimes.md.
"""
from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from edms.definitions import DefinitionTable, LocalizedText
from edms.documents.types import SIGNING_ROLES, DocumentType, FieldDef
from edms.timeutil import require_aware

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
    "administration": LocalizedText("Administration", "投与"),
}

UNITS = ("hours", "calendar_days", "working_days")
DIRECTIONS = ("not_after", "not_before")
DEFAULT_WARN_BEFORE = timedelta(hours=24)

_DURATION = re.compile(r"^(\d{1,4}) (hours?|calendar days?|working days?)$")
_CASE_ANCHOR = re.compile(r"^case\.([a-z][a-z0-9_]*)$")
_FIELD_ANCHOR = re.compile(r"^([a-z][a-z0-9_]*)(?:\[([a-z][a-z0-9_]*)=([A-Za-z0-9_]+)\])?\.([a-z][a-z0-9_]*)$")
_FIELD_PATH = re.compile(r"^([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)$")

_TOP_KEYS = (
    "key", "jurisdiction", "default", "variant_of", "name", "description", "source", "release", "holidays",
    "conditions", "documents", "deadlines",
)
_CONDITION_KEYS = ("key", "question", "if_yes", "if_no", "asked_of", "answered_by", "equals")
_DOCUMENT_KEYS = (
    "type", "prerequisites", "applies_when", "applies_unless", "satisfied_when", "source", "assumption", "note",
)
_TEST_KEYS = ("field", "equals", "includes_all_of")
_DEADLINE_KEYS = (
    "key", "label", "anchor", "offset", "direction", "met_by", "applies_when", "applies_unless", "per_record",
    "warn_before", "source", "assumption", "note",
)


class RegimeError(ValueError):
    """A regime definition is invalid; the message names the file and the field path."""


# ---------------------------------------------------------------------------------------------------
# The model


@dataclass(frozen=True)
class FieldTest:
    """A test on one field of an approved record: its value is one of `equals`, or (for a multichoice)
    it includes every value that `includes_all_of` (type key, field) holds in the case's approved records."""

    type_key: str
    field: FieldDef
    equals: tuple[object, ...] = ()
    includes_all_of: tuple[str, FieldDef] | None = None


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
class RegimeDocument:
    type_key: str
    document_type: DocumentType
    prerequisites: tuple[str, ...]
    condition: ConditionRef | None
    satisfied_when: tuple[FieldTest, ...]
    source: str
    assumption: bool
    note: str | None

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

    def document(self, type_key: str) -> RegimeDocument:
        for document in self.documents:
            if document.type_key == type_key:
                return document
        raise KeyError(f"regime '{self.key}' has no document '{type_key}'")

    @property
    def assumptions(self) -> tuple[RegimeDocument | Deadline, ...]:
        return tuple(step for step in (*self.documents, *self.deadlines) if step.assumption)


@dataclass(frozen=True)
class CaseRecord:
    """One record of the case as a regime sees it: its clean values (as `DocumentType.validate` returns
    them) and whether this version is approved (every signature step signed). Pass the approved version
    of each record, or the latest draft of a record that has none yet."""

    type_key: str
    values: Mapping[str, object]
    approved: bool


@dataclass(frozen=True)
class Blocker:
    """Why a step may not happen yet, and who must act next (signing roles; empty when nobody can)."""

    reason: LocalizedText
    roles: tuple[str, ...] = ()
    type_key: str | None = None


@dataclass(frozen=True)
class ChecklistItem:
    document: RegimeDocument
    applies: bool | None  # None: its condition is not answered yet, so it counts as needed
    satisfied: bool
    shortfalls: tuple[LocalizedText, ...]  # why the approved records do not meet the regime's tests
    blockers: tuple[Blocker, ...]  # why it may not be signed yet

    @property
    def next_roles(self) -> tuple[str, ...]:
        """Who must act next: on what blocks this record if anything does, else its first signer."""
        if self.satisfied or self.applies is False:
            return ()
        if self.blockers:
            return tuple(dict.fromkeys(role for blocker in self.blockers for role in blocker.roles))
        return self.document.roles[:1]


# ---------------------------------------------------------------------------------------------------
# Gates


def _value_label(field: FieldDef, value: object, language: str) -> str:
    if value is None or value == []:
        return "未入力" if language == "ja" else "empty"
    if isinstance(value, bool):
        return ("はい" if value else "いいえ") if language == "ja" else ("yes" if value else "no")
    if isinstance(value, (list, tuple)):
        return ("、" if language == "ja" else ", ").join(field.choice_label(str(item), language) for item in value)
    return field.choice_label(str(value), language)


def _shortfall(document: RegimeDocument, test: FieldTest, values: Mapping[str, object],
               records: Iterable[CaseRecord]) -> LocalizedText | None:
    """None when the record passes the test, otherwise the reason it does not."""
    value = values.get(test.field.name)
    name, label = document.document_type.name, test.field.label
    if test.includes_all_of is None:
        if value in test.equals:
            return None
        needed_en = " or ".join(_value_label(test.field, allowed, "en") for allowed in test.equals)
        needed_ja = "又は".join(f"「{_value_label(test.field, allowed, 'ja')}」" for allowed in test.equals)
        return LocalizedText(
            f"{name.en}: {label.en} is {_value_label(test.field, value, 'en')} (needed: {needed_en}).",
            f"{name.ja}：{label.ja}が「{_value_label(test.field, value, 'ja')}」です（必要：{needed_ja}）。",
        )
    ref_type, ref_field = test.includes_all_of
    listed = set(value) if isinstance(value, (list, tuple)) else set()
    needed = {
        item
        for record in records
        if record.type_key == ref_type and record.approved
        for item in _as_list(record.values.get(ref_field.name))
    }
    missing = sorted(needed - listed)
    if not missing:
        return None
    return LocalizedText(
        f"{name.en}: {label.en} does not include {_value_label(ref_field, missing, 'en')} "
        f"({ref_field.label.en} of the case).",
        f"{name.ja}：{label.ja}に「{_value_label(ref_field, missing, 'ja')}」が含まれていません"
        f"（本ケースの{ref_field.label.ja}）。",
    )


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    return [str(item) for item in value] if isinstance(value, (list, tuple)) else [str(value)]


def _evaluate(document: RegimeDocument, records: list[CaseRecord]) -> tuple[bool, tuple[LocalizedText, ...]]:
    """(satisfied, shortfalls): satisfied when one approved record of the type passes every test."""
    shortfalls: list[LocalizedText] = []
    for record in records:
        if record.type_key != document.type_key or not record.approved:
            continue
        reasons = [reason for test in document.satisfied_when
                   if (reason := _shortfall(document, test, record.values, records)) is not None]
        if not reasons:
            return True, ()
        shortfalls.extend(reason for reason in reasons if reason not in shortfalls)
    return False, tuple(shortfalls)


def _role_names(roles: Iterable[str], language: str) -> str:
    return ("、" if language == "ja" else ", ").join(SIGNING_ROLES[role].text(language) for role in roles)


def _unmet_blocker(document: RegimeDocument, shortfalls: tuple[LocalizedText, ...]) -> Blocker:
    roles = document.roles
    if shortfalls:
        reason = LocalizedText(" ".join(item.en for item in shortfalls), "".join(item.ja for item in shortfalls))
        return Blocker(reason, roles[:1], document.type_key)
    name = document.document_type.name
    return Blocker(
        LocalizedText(
            f"{name.en} must be approved first (signed by: {_role_names(roles, 'en')}).",
            f"先に{name.ja}の承認が必要です（署名：{_role_names(roles, 'ja')}）。",
        ),
        roles[:1],
        document.type_key,
    )


def _prerequisite_closure(regime: Regime, type_key: str) -> list[str]:
    """Every record `type_key` waits for, nearest first: a prerequisite withdrawn after its dependants
    were approved still closes the gate."""
    order: list[str] = []
    queue = list(regime.document(type_key).prerequisites)
    while queue:
        key = queue.pop(0)
        if key not in order:
            order.append(key)
            queue.extend(regime.document(key).prerequisites)
    return order


def safety_blockers(regime: Regime, records: Iterable[CaseRecord]) -> list[Blocker]:
    """One blocker per record, draft or approved, that reports an OOS result on a safety test: by a
    choice of a safety test (sterility, endotoxin, mycoplasma) or by a `safety = true` field set to yes."""
    types = {document.type_key: document.document_type for document in regime.documents}
    blockers: list[Blocker] = []
    for record in records:
        doc_type = types.get(record.type_key)
        if doc_type is None:
            continue
        tests = [
            (field, value)
            for field in doc_type.fields
            if field.type in ("choice", "multichoice")
            for value in _as_list(record.values.get(field.name))
            if is_safety_test(value)
        ]
        flagged = [field for field in doc_type.fields if field.safety and record.values.get(field.name) is True]
        if tests:
            what = LocalizedText(
                ", ".join(field.choice_label(value, "en") for field, value in tests),
                "、".join(field.choice_label(value, "ja") for field, value in tests),
            )
        elif flagged:
            what = LocalizedText("marked as a safety test", "安全性に関する試験として記録")
        else:
            continue
        blockers.append(Blocker(
            LocalizedText(
                f"{doc_type.name.en} reports an OOS result on a safety test ({what.en}): safety specifications "
                "are never waived, so this lot cannot be released under any regime.",
                f"{doc_type.name.ja}の規格外結果は安全性に関する試験（{what.ja}）です。安全性に関する規格は"
                "免除されないため、いずれの制度でも本ロットは出荷できません。",
            ),
            (),
            record.type_key,
        ))
    return blockers


def signing_blockers(regime: Regime, type_key: str, *, records: Iterable[CaseRecord],
                     conditions: Mapping[str, bool | None]) -> list[Blocker]:
    """Why a record of `type_key` may not be signed yet in this case (21 CFR 11.10(f)); empty when it may.

    A prerequisite whose condition is not answered counts as needed: an open question never opens a gate.
    """
    case_records = list(records)
    blockers: list[Blocker] = []
    for key in _prerequisite_closure(regime, type_key):
        prerequisite = regime.document(key)
        applies = None if prerequisite.condition is None else prerequisite.condition.evaluate(conditions)
        if applies is False:
            continue
        satisfied, shortfalls = _evaluate(prerequisite, case_records)
        if satisfied:
            continue
        ref = prerequisite.condition
        if applies is None and ref is not None and ref.condition.asked_of is not None:
            condition, name, when = ref.condition, prerequisite.document_type.name, ref.text
            blockers.append(Blocker(
                LocalizedText(
                    f"Not answered yet: {condition.question.en} ({name.en} is needed: {when.en}.)",
                    f"未回答：{condition.question.ja}（{when.ja}は{name.ja}が必要です。）",
                ),
                (condition.asked_of,),
                key,
            ))
            continue
        blockers.append(_unmet_blocker(prerequisite, shortfalls))
    if type_key == regime.release:
        blockers.extend(safety_blockers(regime, case_records))
    return blockers


def administration_blockers(regime: Regime, *, records: Iterable[CaseRecord],
                            conditions: Mapping[str, bool | None]) -> list[Blocker]:
    """Why the lot may not be administered: it is not released (with the regime's release decision), or
    the OOS is on a safety test. Time gates ("not before") are in deadlines.not_yet_permitted."""
    case_records = list(records)
    release = regime.document(regime.release)
    satisfied, shortfalls = _evaluate(release, case_records)
    blockers = [] if satisfied else [_unmet_blocker(release, shortfalls)]
    return blockers + safety_blockers(regime, case_records)


def checklist(regime: Regime, *, records: Iterable[CaseRecord],
              conditions: Mapping[str, bool | None]) -> list[ChecklistItem]:
    """The regime's records in order: whether each applies, is satisfied, and what stops it being signed."""
    case_records = list(records)
    items = []
    for document in regime.documents:
        satisfied, shortfalls = _evaluate(document, case_records)
        items.append(ChecklistItem(
            document=document,
            applies=True if document.condition is None else document.condition.evaluate(conditions),
            satisfied=satisfied,
            shortfalls=shortfalls,
            blockers=tuple(signing_blockers(regime, document.type_key, records=case_records, conditions=conditions)),
        ))
    return items


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
        for anchor, approved_only in ((deadline.anchor, False), (deadline.met_by, True)):
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


def default_regime(regimes: Mapping[str, Regime], jurisdiction: str) -> Regime:
    for regime in regimes.values():
        if regime.jurisdiction == jurisdiction and regime.default:
            return regime
    raise KeyError(f"no default regime for jurisdiction '{jurisdiction}'")


# ---------------------------------------------------------------------------------------------------
# Loading


class _Table(DefinitionTable):
    error_class = RegimeError


@dataclass
class _Context:
    """What a regime's parts are checked against while its file is read."""

    types: Mapping[str, DocumentType]
    listed: set[str]
    conditions: dict[str, Condition]
    used_conditions: set[str]


def _parse_duration(table: _Table, key: str, text: str) -> Duration:
    match = _DURATION.match(text)
    if match is None:
        raise table.error(
            f"'{text}' is not a duration (expected e.g. '48 hours', '30 calendar days' or '5 working days')", key
        )
    amount, words = int(match.group(1)), match.group(2)
    unit = "hours" if words.startswith("hour") else "calendar_days" if words.startswith("calendar") else "working_days"
    if unit == "working_days" and amount < 1:
        raise table.error("a count of working days must be at least 1", key)
    return Duration(amount, unit)


def _type_and_field(table: _Table, key: str, text: str, ctx: _Context) -> tuple[str, FieldDef]:
    match = _FIELD_PATH.match(text)
    if match is None:
        raise table.error(f"'{text}' must be <document type>.<field>", key)
    type_key, field_name = match.groups()
    if type_key not in ctx.listed:
        raise table.error(f"'{type_key}' is not one of this regime's documents ({', '.join(sorted(ctx.listed))})", key)
    try:
        return type_key, ctx.types[type_key].field(field_name)
    except KeyError:
        raise table.error(f"document type '{type_key}' has no field '{field_name}'", key) from None


def _parse_equals(table: _Table, field: FieldDef, required: bool) -> tuple[object, ...]:
    raw = table.take("equals", (bool, str, list), "true, false, a string or an array of strings", False)
    if raw is None:
        if field.type == "boolean" and not required:
            return (True,)
        raise table.error("missing (required)", "equals")
    values = tuple(raw) if isinstance(raw, list) else (raw,)
    if field.type == "boolean":
        if len(values) != 1 or not isinstance(values[0], bool):
            raise table.error(f"field '{field.name}' is yes/no: expected true or false", "equals")
        return values
    if field.type != "choice":
        raise table.error(f"equals needs a boolean or choice field; '{field.name}' is {field.type}", "equals")
    allowed = [choice.value for choice in field.choices]
    for value in values:
        if value not in allowed:
            raise table.error(f"'{value}' is not a choice of '{field.name}' (expected one of {', '.join(allowed)})",
                              "equals")
    return values


def _parse_condition(table: _Table, ctx: _Context) -> Condition:
    key = table.identifier("key")
    question, if_yes, if_no = table.localized("question"), table.localized("if_yes"), table.optional_localized("if_no")
    asked_of, answered_by = table.optional_string("asked_of"), table.optional_string("answered_by")
    if (asked_of is None) == (answered_by is None):
        raise table.error("give exactly one of asked_of (a case question) or answered_by (a record field)", "asked_of")
    test = None
    if asked_of is not None:
        if asked_of not in SIGNING_ROLES:
            raise table.error(f"unknown role '{asked_of}' (expected one of {', '.join(SIGNING_ROLES)})", "asked_of")
        if table.has("equals"):
            raise table.error("equals applies only with answered_by", "equals")
    else:
        assert answered_by is not None
        type_key, field = _type_and_field(table, "answered_by", answered_by, ctx)
        test = FieldTest(type_key, field, _parse_equals(table, field, required=False))
    table.finish(_CONDITION_KEYS)
    return Condition(key, question, if_yes, if_no, asked_of, test)


def _parse_condition_ref(table: _Table, ctx: _Context) -> ConditionRef | None:
    when, unless = table.optional_string("applies_when"), table.optional_string("applies_unless")
    if when is not None and unless is not None:
        raise table.error("give applies_when or applies_unless, not both", "applies_unless")
    key, field = (when, "applies_when") if when is not None else (unless, "applies_unless")
    if key is None:
        return None
    condition = ctx.conditions.get(key)
    if condition is None:
        known = ", ".join(ctx.conditions) or "none declared"
        raise table.error(f"unknown condition '{key}' (declared: {known})", field)
    if unless is not None and condition.if_no is None:
        raise table.error(f"condition '{key}' needs if_no to be used with applies_unless", field)
    ctx.used_conditions.add(key)
    return ConditionRef(condition, expected=when is not None)


def _parse_assumption(table: _Table) -> tuple[bool, str | None]:
    assumption, note = table.boolean("assumption", False), table.optional_string("note")
    if assumption and note is None:
        raise table.error("an assumption needs a note saying what is assumed", "note")
    return assumption, note


def _parse_test(table: _Table, type_key: str, ctx: _Context) -> FieldTest:
    name = table.identifier("field")
    doc_type = ctx.types[type_key]
    try:
        field = doc_type.field(name)
    except KeyError:
        raise table.error(f"document type '{type_key}' has no field '{name}'", "field") from None
    reference = table.optional_string("includes_all_of")
    if reference is None:
        test = FieldTest(type_key, field, _parse_equals(table, field, required=True))
    else:
        if table.has("equals"):
            raise table.error("give equals or includes_all_of, not both", "equals")
        if field.type != "multichoice":
            raise table.error(f"includes_all_of needs a multichoice field; '{name}' is {field.type}", "includes_all_of")
        ref_type, ref_field = _type_and_field(table, "includes_all_of", reference, ctx)
        if ref_field.type not in ("choice", "multichoice"):
            raise table.error(f"'{reference}' must be a choice field", "includes_all_of")
        ref_values = {choice.value for choice in ref_field.choices}
        foreign = [choice.value for choice in field.choices if choice.value not in ref_values]
        if foreign:
            raise table.error(f"choices of '{name}' not among those of '{reference}': {', '.join(foreign)}",
                              "includes_all_of")
        test = FieldTest(type_key, field, includes_all_of=(ref_type, ref_field))
    table.finish(_TEST_KEYS)
    return test


def _parse_document(table: _Table, ctx: _Context) -> RegimeDocument:
    type_key = table.identifier("type")
    if type_key not in ctx.types:
        raise table.error(f"unknown document type '{type_key}' (expected one of {', '.join(sorted(ctx.types))})",
                          "type")
    prerequisites = table.strings("prerequisites")
    for index, key in enumerate(prerequisites):
        where = f"prerequisites[{index}]"
        if key not in ctx.listed:
            raise table.error(f"'{key}' is not one of this regime's documents", where)
        if key == type_key:
            raise table.error(f"'{key}' cannot be its own prerequisite", where)
        if key in prerequisites[:index]:
            raise table.error(f"'{key}' is listed twice", where)
    condition = _parse_condition_ref(table, ctx)
    tests = tuple(_parse_test(item, type_key, ctx) for item in table.tables("satisfied_when", required=False))
    source = table.string("source")
    assumption, note = _parse_assumption(table)
    table.finish(_DOCUMENT_KEYS)
    return RegimeDocument(type_key, ctx.types[type_key], prerequisites, condition, tests, source, assumption, note)


def _parse_anchor(table: _Table, key: str, ctx: _Context) -> Anchor:
    text = table.string(key)
    case = _CASE_ANCHOR.match(text)
    if case is not None:
        name = case.group(1)
        if name not in CASE_DATES:
            raise table.error(f"unknown case date '{name}' (expected one of {', '.join(CASE_DATES)})", key)
        return Anchor(text, CASE_DATES[name], None, name)
    match = _FIELD_ANCHOR.match(text)
    if match is None:
        raise table.error(
            f"'{text}' is not an anchor (expected case.<date>, <type>.<field> or <type>[<field>=<value>].<field>)", key
        )
    type_key, where_field, where_value, field_name = match.groups()
    if type_key not in ctx.listed:
        raise table.error(f"'{type_key}' is not one of this regime's documents ({', '.join(sorted(ctx.listed))})", key)
    doc_type = ctx.types[type_key]
    try:
        field = doc_type.field(field_name)
    except KeyError:
        raise table.error(f"document type '{type_key}' has no field '{field_name}'", key) from None
    if field.type != "datetime":
        raise table.error(f"'{type_key}.{field_name}' is a {field.type} field; a clock needs a datetime field", key)
    label = LocalizedText(f"{field.label.en} ({doc_type.name.en})", f"{field.label.ja}（{doc_type.name.ja}）")
    where = None
    if where_field is not None:
        try:
            selector = doc_type.field(where_field)
        except KeyError:
            raise table.error(f"document type '{type_key}' has no field '{where_field}'", key) from None
        allowed = [choice.value for choice in selector.choices]
        if selector.type != "choice" or where_value not in allowed:
            raise table.error(f"'{where_value}' is not a choice of '{type_key}.{where_field}'", key)
        chosen = selector.choice_label(where_value, "en"), selector.choice_label(where_value, "ja")
        label = LocalizedText(f"{field.label.en} ({doc_type.name.en}, {chosen[0]})",
                              f"{field.label.ja}（{doc_type.name.ja}、{chosen[1]}）")
        where = (where_field, where_value)
    return Anchor(text, label, type_key, field_name, where)


def _parse_deadline(table: _Table, ctx: _Context) -> Deadline:
    key, label = table.identifier("key"), table.localized("label")
    anchor = _parse_anchor(table, "anchor", ctx)
    offset = _parse_duration(table, "offset", table.string("offset"))
    direction = table.string("direction")
    if direction not in DIRECTIONS:
        raise table.error(f"unknown direction '{direction}' (expected one of {', '.join(DIRECTIONS)})", "direction")
    met_by = _parse_anchor(table, "met_by", ctx)
    if met_by.text == anchor.text:
        raise table.error("a deadline cannot be met by the moment it starts from", "met_by")
    condition = _parse_condition_ref(table, ctx)
    per_record = table.boolean("per_record", False)
    if per_record and anchor.type_key is None:
        raise table.error("a per-record deadline must start from a record field, not a case date", "per_record")
    if per_record and met_by.type_key not in (None, anchor.type_key):
        raise table.error(f"a per-record deadline must be met by the same record ('{anchor.type_key}')", "met_by")
    warn_before = DEFAULT_WARN_BEFORE
    warn_text = table.optional_string("warn_before")
    if warn_text is not None:
        if direction == "not_before":
            raise table.error("warn_before applies only to not_after deadlines", "warn_before")
        warn = _parse_duration(table, "warn_before", warn_text)
        if warn.unit == "working_days":
            raise table.error("a warning window is elapsed time: give hours or calendar days", "warn_before")
        warn_before = timedelta(hours=warn.amount) if warn.unit == "hours" else timedelta(days=warn.amount)
    source = table.string("source")
    assumption, note = _parse_assumption(table)
    table.finish(_DEADLINE_KEYS)
    return Deadline(key, label, anchor, offset, direction, met_by, condition, per_record, warn_before, source,
                    assumption, note)


def _check_cycles(tables: list[_Table], documents: list[RegimeDocument]) -> None:
    graph = {document.type_key: document.prerequisites for document in documents}
    state: dict[str, str] = {}  # "visiting" on the current path, "done" when proven acyclic

    def visit(key: str, path: list[str]) -> None:
        state[key] = "visiting"
        for prerequisite in graph[key]:
            if state.get(prerequisite) == "visiting":  # on the current path
                cycle = [*path[path.index(prerequisite):], prerequisite]
                index = next(i for i, document in enumerate(documents) if document.type_key == cycle[0])
                raise tables[index].error(f"cycle in prerequisites: {' → '.join(cycle)}", "prerequisites")
            if prerequisite not in state:
                visit(prerequisite, [*path, prerequisite])
        state[key] = "done"

    for document in documents:
        if document.type_key not in state:
            visit(document.type_key, [document.type_key])


def _check_unique(tables: list[_Table], names: list[str], what: str, field: str) -> None:
    seen: set[str] = set()
    for table, name in zip(tables, names):
        if name in seen:
            raise table.error(f"duplicate {what} '{name}'", field)
        seen.add(name)


def _parse_holidays(top: _Table) -> frozenset[date]:
    raw = top.take("holidays", (list,), "an array of dates", False)
    days: set[date] = set()
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(item, date) or isinstance(item, datetime):
            raise top.error(f"expected a date such as 2026-12-25 (no quotes), got {item!r}", f"holidays[{index}]")
        days.add(item)
    return frozenset(days)


def _load_file(path: Path, types: Mapping[str, DocumentType]) -> Regime:
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RegimeError(f"{path}: not valid UTF-8 TOML: {exc}") from None
    top = _Table(str(path), "", data)
    key = top.identifier("key")
    jurisdiction = top.string("jurisdiction")
    if jurisdiction not in JURISDICTIONS:
        raise top.error(f"unknown jurisdiction '{jurisdiction}' (expected one of {', '.join(JURISDICTIONS)})",
                        "jurisdiction")
    default, variant_of = top.boolean("default", False), top.optional_string("variant_of")
    name, description, source = top.localized("name"), top.localized("description"), top.string("source")
    release, holidays = top.identifier("release"), _parse_holidays(top)
    condition_tables = top.tables("conditions", required=False)
    document_tables, deadline_tables = top.tables("documents"), top.tables("deadlines", required=False)
    top.finish(_TOP_KEYS)
    if not document_tables:
        raise top.error("at least one document is required", "documents")

    # Listed types first, so that prerequisites, anchors and tests may refer to any of them.
    listed: list[str] = []
    for table in document_tables:
        type_key = table.data.get("type")
        if isinstance(type_key, str):
            if type_key in listed:
                raise table.error(f"duplicate document '{type_key}'", "type")
            listed.append(type_key)
    ctx = _Context(types, set(listed), {}, set())
    for table in condition_tables:
        condition = _parse_condition(table, ctx)
        if condition.key in ctx.conditions:
            raise table.error(f"duplicate condition '{condition.key}'", "key")
        ctx.conditions[condition.key] = condition
    documents = [_parse_document(table, ctx) for table in document_tables]
    _check_cycles(document_tables, documents)
    if release not in ctx.listed:
        raise top.error(f"'{release}' is not one of this regime's documents", "release")
    if documents[listed.index(release)].condition is not None:
        raise top.error(f"the release document '{release}' cannot be conditional", "release")
    deadlines = [_parse_deadline(table, ctx) for table in deadline_tables]
    _check_unique(deadline_tables, [deadline.key for deadline in deadlines], "deadline key", "key")
    starts = {d.anchor.text: d.key for d in deadlines if d.anchor.type_key is not None}
    for table, deadline in zip(deadline_tables, deadlines):
        # Starts come from drafts, ends only from approved records: one field cannot be both.
        if deadline.met_by.text in starts:
            raise table.error(f"'{deadline.met_by.text}' is the start of deadline '{starts[deadline.met_by.text]}'",
                              "met_by")
    for index, condition_key in enumerate(ctx.conditions):
        if condition_key not in ctx.used_conditions:
            raise condition_tables[index].error(f"condition '{condition_key}' is declared but never used", "key")
    return Regime(
        key=key,
        jurisdiction=jurisdiction,
        name=name,
        description=description,
        default=default,
        variant_of=variant_of,
        source=source,
        release=release,
        holidays=holidays,
        conditions=dict(ctx.conditions),
        documents=tuple(documents),
        deadlines=tuple(deadlines),
        path=path,
        source_sha256=hashlib.sha256(raw).hexdigest(),
    )


def load_regimes(directory: Path, document_types: Mapping[str, DocumentType]) -> dict[str, Regime]:
    """Every `*.toml` in `directory`, keyed by regime key; raises RegimeError on the first problem."""
    paths = sorted(directory.glob("*.toml"))
    if not paths:
        raise RegimeError(f"{directory}: no regime definitions (*.toml) found")
    regimes: dict[str, Regime] = {}
    for path in paths:
        regime = _load_file(path, document_types)
        if regime.key in regimes:
            raise RegimeError(f"{path}: key: duplicate regime key '{regime.key}' (also in {regimes[regime.key].path})")
        regimes[regime.key] = regime
    for regime in regimes.values():
        if regime.variant_of is None:
            continue
        base = regimes.get(regime.variant_of)
        if base is None or base.variant_of is not None or base.jurisdiction != regime.jurisdiction:
            raise RegimeError(f"{regime.path}: variant_of: '{regime.variant_of}' is not a base regime "
                              f"of jurisdiction {regime.jurisdiction}")
    for jurisdiction in JURISDICTIONS:
        members = [regime for regime in regimes.values() if regime.jurisdiction == jurisdiction]
        defaults = [regime for regime in members if regime.default]
        if members and len(defaults) != 1:
            path = (defaults[1] if defaults else members[0]).path
            raise RegimeError(f"{path}: default: jurisdiction {jurisdiction} needs exactly one default regime "
                              f"(found {len(defaults)})")
    return regimes
