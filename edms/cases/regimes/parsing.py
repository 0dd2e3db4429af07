"""Reading the parts of one regime file: conditions, documents with their tests, anchors and deadlines.

Every problem is reported with the file and the field path (`RegimeTable.error`); unknown keys are errors.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta

from edms.cases.regimes.model import (
    CASE_DATES,
    DEFAULT_WARN_BEFORE,
    DIRECTIONS,
    Anchor,
    Condition,
    ConditionRef,
    Deadline,
    Duration,
    FieldTest,
    RegimeDocument,
    RegimeError,
    Retention,
)
from edms.definitions import DefinitionTable, LocalizedText
from edms.documents.types import SIGNING_ROLES, DocumentType, FieldDef

_DURATION = re.compile(r"^(\d{1,4}) (hours?|calendar days?|working days?)$")
_CASE_ANCHOR = re.compile(r"^case\.([a-z][a-z0-9_]*)$")
_FIELD_ANCHOR = re.compile(r"^([a-z][a-z0-9_]*)(?:\[([a-z][a-z0-9_]*)=([A-Za-z0-9_]+)\])?\.([a-z][a-z0-9_]*)$")
_FIELD_PATH = re.compile(r"^([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)$")
_YEARS = re.compile(r"^(\d{1,3}) years?$")
RECORD_APPROVED = "record.approved"
_RECORD_APPROVED_LABEL = LocalizedText("Approval of the record", "記録の承認")

_CONDITION_KEYS = ("key", "question", "if_yes", "if_no", "asked_of", "answered_by", "equals")
_DOCUMENT_KEYS = (
    "type", "prerequisites", "applies_when", "applies_unless", "satisfied_when", "source", "assumption", "note",
    "retention",
)
_RETENTION_KEYS = ("period", "from", "source", "assumption", "note")
_TEST_KEYS = ("field", "equals", "includes_all_of", "outcome")
_DEADLINE_KEYS = (
    "key", "label", "anchor", "offset", "direction", "met_by", "applies_when", "applies_unless", "per_record",
    "warn_before", "warn_from", "source", "assumption", "note",
)


class RegimeTable(DefinitionTable):
    error_class = RegimeError

    def subtable(self, key: str) -> RegimeTable:
        """The table under `key` (required), read with the same error paths."""
        value = self.take(key, (dict,), "a table", True)
        return RegimeTable(self.source, f"{self.path}.{key}" if self.path else key, value)


@dataclass
class RegimeContext:
    """What a regime's parts are checked against while its file is read."""

    types: Mapping[str, DocumentType]
    listed: set[str]
    conditions: dict[str, Condition]
    used_conditions: set[str]


def _parse_duration(table: RegimeTable, key: str, text: str) -> Duration:
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


def _type_and_field(table: RegimeTable, key: str, text: str, ctx: RegimeContext) -> tuple[str, FieldDef]:
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


def _parse_equals(table: RegimeTable, field: FieldDef, required: bool) -> tuple[object, ...]:
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


def parse_condition(table: RegimeTable, ctx: RegimeContext) -> Condition:
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


def _parse_condition_ref(table: RegimeTable, ctx: RegimeContext) -> ConditionRef | None:
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


def _parse_assumption(table: RegimeTable) -> tuple[bool, str | None]:
    assumption, note = table.boolean("assumption", False), table.optional_string("note")
    if assumption and note is None:
        raise table.error("an assumption needs a note saying what is assumed", "note")
    return assumption, note


def _parse_test(table: RegimeTable, type_key: str, ctx: RegimeContext) -> FieldTest:
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
    outcome = table.boolean("outcome", False)
    if outcome:
        if test.includes_all_of is not None:
            raise table.error("outcome applies to a decision (equals), not to includes_all_of", "outcome")
        test = replace(test, outcome=True)
    table.finish(_TEST_KEYS)
    return test


def parse_document(table: RegimeTable, ctx: RegimeContext) -> RegimeDocument:
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
    retention = None
    if table.has("retention"):
        retention = parse_retention(table.subtable("retention"), f"{type_key}.retention")
    table.finish(_DOCUMENT_KEYS)
    return RegimeDocument(type_key, ctx.types[type_key], prerequisites, condition, tests, source, assumption, note,
                          retention)


def parse_retention(table: RegimeTable, key: str) -> Retention:
    """`period = "30 years"`, `from = "case.administration"` (a case date) or `"record.approved"`, `source`."""
    period = table.string("period")
    match = _YEARS.match(period)
    if match is None or int(match.group(1)) < 1:
        raise table.error(f"'{period}' is not a retention period (expected e.g. '30 years')", "period")
    start = table.string("from")
    case = _CASE_ANCHOR.match(start)
    if start == RECORD_APPROVED:
        label = _RECORD_APPROVED_LABEL
    elif case is not None and case.group(1) in CASE_DATES:
        label = CASE_DATES[case.group(1)]
    else:
        dates = ", ".join(f"case.{name}" for name in CASE_DATES)
        raise table.error(f"'{start}' is not a moment retention can run from (expected {RECORD_APPROVED} or one of "
                          f"{dates})", "from")
    source = table.string("source")
    assumption, note = _parse_assumption(table)
    table.finish(_RETENTION_KEYS)
    return Retention(key, int(match.group(1)), start, label, source, assumption, note)


def _parse_anchor(table: RegimeTable, key: str, ctx: RegimeContext) -> Anchor:
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


def parse_deadline(table: RegimeTable, ctx: RegimeContext) -> Deadline:
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
    warn_from = None
    if table.has("warn_from"):
        if direction == "not_before":
            raise table.error("warn_from applies only to not_after deadlines", "warn_from")
        warn_from = _parse_anchor(table, "warn_from", ctx)
        if warn_from.text in (anchor.text, met_by.text):
            raise table.error("warn_from must be another moment than the deadline's start and end", "warn_from")
    source = table.string("source")
    assumption, note = _parse_assumption(table)
    table.finish(_DEADLINE_KEYS)
    return Deadline(key, label, anchor, offset, direction, met_by, condition, per_record, warn_before, source,
                    assumption, note, warn_from)
