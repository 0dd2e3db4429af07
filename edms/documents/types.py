"""Controlled document types as data: one TOML file per type in `forms/`, validated strictly at start-up.

Adding a document type means adding a file; code never special-cases a type by name. Every problem in a
definition is reported with the file and the field path so that the person editing it can fix it.
"""
from __future__ import annotations

import hashlib
import re
import string
import tomllib
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

from edms.definitions import DefinitionTable, LocalizedText
from edms.errors import N_
from edms.timeutil import isoformat_utc, require_aware
from edms.users.roles import AUTHOR, PHYSICIAN, QA, REGULATORY

LANGUAGES = ("en", "ja")


# 21 CFR 11.50(a)(3) / 11.70: the meaning is part of every signature manifestation, so it is a
# controlled list here rather than free text in the definitions.
SIGNATURE_MEANINGS: dict[str, LocalizedText] = {
    "authored": LocalizedText("Authored", "作成"),
    "reviewed": LocalizedText("Reviewed", "照査"),
    "approved": LocalizedText("Approved", "承認"),
    "responsibility": LocalizedText("Responsibility", "責任"),
    "verified": LocalizedText("Verified", "確認"),
    "witnessed": LocalizedText("Witnessed", "立会い"),
}

# The roles that may sign a step; administrators and inspectors never sign content.
SIGNING_ROLES: dict[str, LocalizedText] = {
    AUTHOR: LocalizedText("Author (manufacturing / QC)", "作成者（製造・品質管理）"),
    QA: LocalizedText("Quality assurance", "品質保証"),
    PHYSICIAN: LocalizedText("Treating physician", "担当医師"),
    REGULATORY: LocalizedText("Regulatory affairs", "薬事"),
}

FIELD_TYPES = (
    "text", "textarea", "number", "integer", "date", "datetime",
    "choice", "multichoice", "boolean", "document_refs",
)

# Unbounded input is never accepted; a definition may lower or raise these.
DEFAULT_MAX_LENGTH = {"text": 200, "textarea": 20000}

# Keys that only make sense for some field types.
_TYPE_KEYS: dict[str, frozenset[str]] = {
    "max_length": frozenset({"text", "textarea"}),
    "pattern": frozenset({"text"}),
    "example": frozenset({"text"}),
    "min": frozenset({"number", "integer"}),
    "max": frozenset({"number", "integer"}),
    "unit": frozenset({"number", "integer"}),
    "choices": frozenset({"choice", "multichoice"}),
    "ref_types": frozenset({"document_refs"}),
    "safety": frozenset({"boolean"}),
}
_FIELD_KEYS = ("name", "type", "required", "label", "help", *_TYPE_KEYS)
_STEP_KEYS = ("name", "role", "roles", "meaning", "label", "approvals", "allow_same_signer", "after", "signer")
_TOP_KEYS = ("key", "numbering", "name", "description", "fields", "steps")

_NUMBER_LITERAL = re.compile(r"^[A-Za-z0-9_./-]*$")
_NUMBER_SPEC = re.compile(r"^(0?[1-9])?d?$")
_MAX_NUMBER_CHARS = 50


class DefinitionError(ValueError):
    """A document type definition is invalid; the message names the file and the field path."""


@dataclass(frozen=True)
class Choice:
    value: str
    label: LocalizedText


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    label: LocalizedText
    required: bool = False
    help: LocalizedText | None = None
    max_length: int | None = None
    pattern: re.Pattern[str] | None = None
    example: str | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    unit: str | None = None
    choices: tuple[Choice, ...] = ()
    ref_types: tuple[str, ...] = ()
    # A boolean whose "yes" means the record concerns a safety specification (e.g. sterility), which is
    # never waived under any regime.
    safety: bool = False
    # Resolved by the loader from ref_types (or all types): what a referenced document number looks like.
    ref_pattern: re.Pattern[str] | None = None

    def choice_label(self, value: str, language: str) -> str:
        for choice in self.choices:
            if choice.value == value:
                return choice.label.text(language)
        return value


# People a step may name instead of "anyone holding the role": resolved from the record's case when signed.
CASE_PHYSICIAN = "case_physician"
NAMED_SIGNERS: dict[str, LocalizedText] = {
    CASE_PHYSICIAN: LocalizedText("The case's treating physician", "症例の担当医師"),
}


@dataclass(frozen=True)
class SignatureStep:
    """One signing step: who may sign (any one of `roles`, or the named person), what the signature
    means, how many distinct people sign it, and the steps it follows. Steps that follow the same
    steps are parallel: they may be signed in any order."""

    name: str
    roles: tuple[str, ...]
    meaning: str
    label: LocalizedText
    approvals: int = 1
    # False: a person who signed another step of the same record may not sign this one.
    allow_same_signer: bool = False
    # Steps that must be complete before this one may be signed; empty: open as soon as the version is.
    after: tuple[str, ...] = ()
    # A key of NAMED_SIGNERS: in a case, only that person (or someone they delegated to) signs.
    signer: str | None = None


class FieldError(str):
    """A field-level message: the English text, keeping its msgid and parameters so that the pages can
    translate it (the same shape as `edms.errors.UserError`)."""

    message: str
    params: dict[str, object]

    def __new__(cls, message: str, **params: object) -> "FieldError":
        error = super().__new__(cls, message % params if params else message)
        error.message, error.params = message, params
        return error


@dataclass(frozen=True)
class ValidationResult:
    values: dict[str, object]
    errors: dict[str, FieldError]

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class DocumentType:
    key: str
    numbering: str
    name: LocalizedText
    description: LocalizedText
    fields: tuple[FieldDef, ...]
    steps: tuple[SignatureStep, ...]
    source: Path
    # Records can store which exact definition they were validated against.
    source_sha256: str
    number_pattern: re.Pattern[str]

    @property
    def signing_roles(self) -> frozenset[str]:
        """Every role that signs some step of this type."""
        return frozenset(role for step in self.steps for role in step.roles)

    def field(self, name: str) -> FieldDef:
        for definition in self.fields:
            if definition.name == name:
                return definition
        raise KeyError(name)

    def format_number(self, year: int, seq: int) -> str:
        if not 1 <= year <= 9999 or seq < 1:
            raise ValueError(f"invalid year {year} or sequence {seq} for {self.key}")
        return self.numbering.format(year=year, seq=seq)

    def validate(self, raw: Mapping[str, object], *, zone: str | None = None) -> ValidationResult:
        """Clean typed values for every defined field (None when an optional field is empty) and
        field-level errors. `zone` (IANA) is the entering person's zone, applied to date-times given
        without an offset, as an HTML datetime-local input sends them."""
        values: dict[str, object] = {}
        errors: dict[str, FieldError] = {}
        for name in raw:
            if not any(definition.name == name for definition in self.fields):
                errors[str(name)] = FieldError(N_("Unknown field: document type '%(type)s' has no field '%(name)s'."),
                                               type=self.key, name=name)
        for definition in self.fields:
            try:
                values[definition.name] = _clean(definition, raw.get(definition.name), zone)
            except _Invalid as invalid:
                errors[definition.name] = invalid.error
        return ValidationResult(values=values, errors=errors)

    def canonical(self, values: Mapping[str, object]) -> dict[str, object]:
        """JSON-ready content for hashing and storage."""
        return {definition.name: canonical_value(definition, values.get(definition.name)) for definition in self.fields}


# ---------------------------------------------------------------------------------------------------
# Values


class _Invalid(ValueError):
    def __init__(self, message: str, **params: object) -> None:
        self.error = FieldError(message, **params)
        super().__init__(self.error)


def canonical_value(field: FieldDef, value: object) -> object:
    """The JSON form of a clean value: no floats (numbers are decimal strings), dates ISO, times UTC."""
    if value is None:
        return None
    if field.type == "boolean":
        return bool(value)
    if field.type == "number":
        return format(Decimal(str(value)), "f")  # as entered: 72.0 stays "72.0" (significant figures)
    if field.type == "integer":
        return int(str(value))
    if isinstance(value, datetime):
        return isoformat_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return str(value)


def _is_blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple)):
        return all(_is_blank(item) for item in value)
    return False


def _clean(field: FieldDef, value: object, zone: str | None) -> object:
    multi = field.type in ("multichoice", "document_refs")
    # HTML forms give lists (MultiDict.to_dict(flat=False)); a one-item list is a single value.
    if not multi and isinstance(value, (list, tuple)):
        items = [item for item in value if not _is_blank(item)]
        if len(items) > 1:
            raise _Invalid(N_("Only one value is allowed."))
        value = items[0] if items else None
    if _is_blank(value):
        if field.type == "boolean" and not field.required:
            return False  # an unticked checkbox is not sent at all
        if field.required:
            raise _Invalid(N_("This field is required."))
        return [] if multi else None
    return _CLEANERS[field.type](field, value, zone)


def _clean_text(field: FieldDef, value: object, zone: str | None) -> str:
    if not isinstance(value, str):
        raise _Invalid(N_("Expected text."))
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
    allowed = "\n\t" if field.type == "textarea" else ""
    if any(unicodedata.category(char) == "Cc" and char not in allowed for char in text):
        raise _Invalid(N_("Contains control characters.") if allowed else N_("Contains control characters or line breaks."))
    if field.max_length is not None and len(text) > field.max_length:
        raise _Invalid(N_("At most %(limit)s characters are allowed (got %(length)s)."), limit=field.max_length,
                       length=len(text))
    if field.pattern is not None and not field.pattern.fullmatch(text):
        raise _Invalid(N_("'%(value)s' is not in the expected format (example: %(example)s)."), value=text,
                       example=field.example)
    return text


def _unit_suffix(field: FieldDef) -> str:
    return f" {field.unit}" if field.unit else ""


def _check_range(field: FieldDef, number: Decimal) -> None:
    if field.minimum is not None and number < field.minimum:
        raise _Invalid(N_("Must be at least %(limit)s%(unit)s."), limit=field.minimum, unit=_unit_suffix(field))
    if field.maximum is not None and number > field.maximum:
        raise _Invalid(N_("Must be at most %(limit)s%(unit)s."), limit=field.maximum, unit=_unit_suffix(field))


def _clean_number(field: FieldDef, value: object, zone: str | None) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise _Invalid(N_("Expected a number."))
    text = str(value).strip()
    if len(text) > _MAX_NUMBER_CHARS:
        raise _Invalid(N_("The number is too long."))
    try:
        number = Decimal(text)  # str(float) keeps what JSON said: 72.5 -> Decimal("72.5")
    except InvalidOperation:
        raise _Invalid(N_("'%(value)s' is not a number (use a point as decimal separator, e.g. 72.5)."), value=text) from None
    if not number.is_finite():
        raise _Invalid(N_("Expected a finite number."))
    _check_range(field, number)
    return number


def _clean_integer(field: FieldDef, value: object, zone: str | None) -> int:
    if isinstance(value, bool):
        raise _Invalid(N_("Expected a whole number."))
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,30}", value.strip()):
        number = int(value.strip())
    else:
        raise _Invalid(N_("'%(value)s' is not a whole number."), value=value)
    _check_range(field, Decimal(number))
    return number


def _clean_date(field: FieldDef, value: object, zone: str | None) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _Invalid(N_("'%(value)s' is not a date in the form YYYY-MM-DD."), value=value)


def _clean_datetime(field: FieldDef, value: object, zone: str | None) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _Invalid(N_("'%(value)s' is not a date and time such as 2026-11-25T21:06+09:00."), value=value) from None
    else:
        raise _Invalid(N_("Expected a date and time."))
    if moment.tzinfo is None or moment.utcoffset() is None:
        if zone is None:
            raise _Invalid(N_("Give the time zone offset, e.g. 2026-11-25T21:06+09:00."))
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return require_aware(moment)


def _clean_choice(field: FieldDef, value: object, zone: str | None) -> str:
    allowed = [choice.value for choice in field.choices]
    if not isinstance(value, str) or value.strip() not in allowed:
        raise _Invalid(N_("'%(value)s' is not one of: %(allowed)s."), value=value, allowed=", ".join(allowed))
    return value.strip()


def _clean_multichoice(field: FieldDef, value: object, zone: str | None) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) for item in items):
        raise _Invalid(N_("Expected a list of choices."))
    allowed = [choice.value for choice in field.choices]
    chosen = {item.strip() for item in items if item.strip()}
    unknown = sorted(chosen - set(allowed))
    if unknown:
        raise _Invalid(N_("Not a valid choice: %(values)s (expected any of: %(allowed)s)."), values=", ".join(unknown),
                       allowed=", ".join(allowed))
    return [value for value in allowed if value in chosen]  # definition order: stable canonical content


_TRUE = frozenset({"true", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "no", "n", "off", "0"})


def _clean_boolean(field: FieldDef, value: object, zone: str | None) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _Invalid(N_("'%(value)s' is not yes or no."), value=value)


def _clean_document_refs(field: FieldDef, value: object, zone: str | None) -> list[str]:
    items = re.split(r"[\s,;]+", value) if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) for item in items):
        raise _Invalid(N_("Expected a list of document numbers."))
    refs = list(dict.fromkeys(item.strip() for item in items if item.strip()))
    assert field.ref_pattern is not None, "document_refs fields are resolved by load_document_types"
    wrong = [ref for ref in refs if not field.ref_pattern.fullmatch(ref)]
    if wrong:
        if field.ref_types:
            raise _Invalid(N_("Not a document number of %(types)s: %(numbers)s."), types=", ".join(field.ref_types),
                           numbers=", ".join(wrong))
        raise _Invalid(N_("Not a controlled document number: %(numbers)s."), numbers=", ".join(wrong))
    if field.required and not refs:
        raise _Invalid(N_("This field is required."))
    return refs


_CLEANERS: dict[str, Callable[[FieldDef, object, str | None], object]] = {
    "text": _clean_text,
    "textarea": _clean_text,
    "number": _clean_number,
    "integer": _clean_integer,
    "date": _clean_date,
    "datetime": _clean_datetime,
    "choice": _clean_choice,
    "multichoice": _clean_multichoice,
    "boolean": _clean_boolean,
    "document_refs": _clean_document_refs,
}


# ---------------------------------------------------------------------------------------------------
# Loading


class _Table(DefinitionTable):
    error_class = DefinitionError


def _numbering_regex(table: _Table, pattern: str) -> re.Pattern[str]:
    """`OOS-{year}-{seq:04d}` -> regex for its numbers; only {year} and {seq} with integer formats."""
    try:
        parts = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        raise table.error(f"'{pattern}' is not a valid pattern: {exc}", "numbering") from None
    regex, seen = "", set[str]()
    for literal, name, spec, conversion in parts:
        if not _NUMBER_LITERAL.match(literal):
            message = f"'{literal}': only letters, digits and - _ . / may appear outside placeholders"
            raise table.error(message, "numbering")
        regex += re.escape(literal)
        if name is None:
            continue
        if name not in ("year", "seq") or conversion or name in seen:
            raise table.error(f"'{{{name}}}' is not allowed: use {{year}} and {{seq}} once each", "numbering")
        if not _NUMBER_SPEC.match(spec or ""):
            raise table.error(f"'{{{name}:{spec}}}': only integer formats such as {{seq:04d}} are allowed", "numbering")
        seen.add(name)
        regex += r"\d+"
    if "seq" not in seen:
        raise table.error(f"'{pattern}' must contain {{seq}}", "numbering")
    if not parts[0][0]:
        raise table.error(f"'{pattern}' must start with a fixed prefix such as 'OOS-'", "numbering")
    return re.compile(regex)


def _parse_choices(table: _Table) -> tuple[Choice, ...]:
    choices: list[Choice] = []
    for item in table.tables("choices"):
        choice = Choice(value=item.string("value"), label=item.localized("label"))
        item.finish(("value", "label"))
        if any(existing.value == choice.value for existing in choices):
            raise item.error(f"duplicate choice value '{choice.value}'", "value")
        choices.append(choice)
    if not choices:
        raise table.error("at least one choice is required", "choices")
    return tuple(choices)


def _parse_pattern(table: _Table, example: str | None) -> re.Pattern[str] | None:
    pattern = table.optional_string("pattern")
    if pattern is None:
        if example is not None:
            raise table.error("an example is only used with a pattern", "example")
        return None
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise table.error(f"'{pattern}' is not a valid regular expression: {exc}", "pattern") from None
    if example is None:
        raise table.error("a field with a pattern needs an example (it is shown in error messages)", "example")
    if not compiled.fullmatch(example):
        raise table.error(f"'{example}' does not match the pattern '{pattern}'", "example")
    return compiled


def _parse_field(table: _Table) -> FieldDef:
    name = table.identifier("name")
    kind = table.string("type")
    if kind not in FIELD_TYPES:
        raise table.error(f"unknown field type '{kind}' (expected one of {', '.join(FIELD_TYPES)})", "type")
    for key, kinds in _TYPE_KEYS.items():
        if table.has(key) and kind not in kinds:
            raise table.error(f"'{key}' does not apply to a {kind} field", key)
    example = table.optional_string("example")
    definition = FieldDef(
        name=name,
        type=kind,
        required=table.boolean("required", False),
        label=table.localized("label"),
        help=table.optional_localized("help"),
        max_length=table.integer("max_length", default=DEFAULT_MAX_LENGTH.get(kind), high=1_000_000),
        pattern=_parse_pattern(table, example),
        example=example,
        minimum=table.decimal("min"),
        maximum=table.decimal("max"),
        unit=table.optional_string("unit"),
        choices=_parse_choices(table) if kind in ("choice", "multichoice") else (),
        ref_types=table.strings("ref_types"),
        safety=table.boolean("safety", False),
    )
    if definition.minimum is not None and definition.maximum is not None and definition.minimum > definition.maximum:
        raise table.error(f"min {definition.minimum} is greater than max {definition.maximum}", "min")
    table.finish(_FIELD_KEYS)
    return definition


def _parse_roles(table: _Table) -> tuple[str, ...]:
    """`role = "qa"`, or `roles = ["qa", "regulatory"]` for a step any one of several roles may sign."""
    if table.has("role") == table.has("roles"):
        raise table.error("give either role or roles (exactly one of them)", "role")
    key = "role" if table.has("role") else "roles"
    roles = (table.string("role"),) if key == "role" else table.strings("roles")
    if not roles:
        raise table.error("must name at least one role", key)
    for role in roles:
        if role not in SIGNING_ROLES:
            raise table.error(f"unknown role '{role}' (expected one of {', '.join(SIGNING_ROLES)})", key)
    if len(set(roles)) != len(roles):
        raise table.error("names a role twice", key)
    return roles


def _parse_step(table: _Table, earlier: list[str]) -> SignatureStep:
    """One step; `after` defaults to the step before it (serial), and may only name earlier steps, so the
    definition order is always a valid signing order and no cycle can be written."""
    name = table.identifier("name")
    roles = _parse_roles(table)
    meaning = table.string("meaning")
    if meaning not in SIGNATURE_MEANINGS:
        raise table.error(f"unknown meaning '{meaning}' (expected one of {', '.join(SIGNATURE_MEANINGS)})", "meaning")
    after = table.strings("after") if table.has("after") else tuple(earlier[-1:])
    for index, other in enumerate(after):
        if other not in earlier:
            raise table.error(f"'{other}' is not a step defined before this one", f"after[{index}]")
    signer = table.optional_string("signer")
    if signer is not None and signer not in NAMED_SIGNERS:
        raise table.error(f"unknown signer '{signer}' (expected one of {', '.join(NAMED_SIGNERS)})", "signer")
    step = SignatureStep(
        name=name,
        roles=roles,
        meaning=meaning,
        label=table.localized("label"),
        approvals=table.integer("approvals", default=1, high=10) or 1,
        allow_same_signer=table.boolean("allow_same_signer", False),
        after=tuple(dict.fromkeys(after)),
        signer=signer,
    )
    table.finish(_STEP_KEYS)
    return step


def _check_unique(tables: list[_Table], names: list[str], what: str) -> None:
    seen: set[str] = set()
    for table, name in zip(tables, names):
        if name in seen:
            raise table.error(f"duplicate {what} name '{name}'", "name")
        seen.add(name)


def _load_file(path: Path) -> DocumentType:
    """One definition on its own; its document_refs fields are resolved by load_document_types."""
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DefinitionError(f"{path}: not valid UTF-8 TOML: {exc}") from None
    top = _Table(str(path), "", data)
    key = top.identifier("key")
    numbering = top.string("numbering")
    number_pattern = _numbering_regex(top, numbering)
    name, description = top.localized("name"), top.localized("description")
    field_tables, step_tables = top.tables("fields"), top.tables("steps")
    top.finish(_TOP_KEYS)
    if not field_tables:
        raise top.error("at least one field is required", "fields")
    if not step_tables:
        raise top.error("at least one signature step is required", "steps")
    fields = [_parse_field(table) for table in field_tables]
    _check_unique(field_tables, [definition.name for definition in fields], "field")
    steps: list[SignatureStep] = []
    for table in step_tables:
        steps.append(_parse_step(table, [step.name for step in steps]))
    _check_unique(step_tables, [step.name for step in steps], "step")
    return DocumentType(
        key=key,
        numbering=numbering,
        name=name,
        description=description,
        fields=tuple(fields),
        steps=tuple(steps),
        source=path,
        source_sha256=hashlib.sha256(raw).hexdigest(),
        number_pattern=number_pattern,
    )


def _resolve_refs(doc_type: DocumentType, types: Mapping[str, DocumentType]) -> DocumentType:
    fields = []
    for index, definition in enumerate(doc_type.fields):
        if definition.type == "document_refs":
            for position, ref in enumerate(definition.ref_types):
                if ref not in types:
                    raise DefinitionError(
                        f"{doc_type.source}: fields[{index}].ref_types[{position}]: unknown document type '{ref}' "
                        f"(expected one of {', '.join(sorted(types))})"
                    )
            targets = [types[ref] for ref in definition.ref_types] or list(types.values())
            union = "|".join(f"(?:{target.number_pattern.pattern})" for target in targets)
            definition = replace(definition, ref_pattern=re.compile(union))
        fields.append(definition)
    return replace(doc_type, fields=tuple(fields))


def load_document_types(directory: Path) -> dict[str, DocumentType]:
    """Every `*.toml` in `directory`, keyed by type key; raises DefinitionError on the first problem."""
    paths = sorted(directory.glob("*.toml"))
    if not paths:
        raise DefinitionError(f"{directory}: no document type definitions (*.toml) found")
    types: dict[str, DocumentType] = {}
    for path in paths:
        doc_type = _load_file(path)
        if doc_type.key in types:
            first = types[doc_type.key].source
            raise DefinitionError(f"{path}: key: duplicate document type key '{doc_type.key}' (also in {first})")
        for other in types.values():
            # Two types whose numbers could be confused would make a reference ambiguous.
            if other.number_pattern.fullmatch(doc_type.format_number(2026, 1)) or doc_type.number_pattern.fullmatch(
                other.format_number(2026, 1)
            ):
                raise DefinitionError(
                    f"{path}: numbering: '{doc_type.numbering}' overlaps '{other.numbering}' in {other.source}"
                )
        types[doc_type.key] = doc_type
    return {key: _resolve_refs(doc_type, types) for key, doc_type in types.items()}
