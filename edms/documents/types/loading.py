"""Loading the document types: one TOML file per type in `forms/`, validated strictly at start-up.

Adding a document type means adding a file; code never special-cases a type by name. Every problem in a
definition is reported with the file and the field path so that the person editing it can fix it.
"""
from __future__ import annotations

import functools
import hashlib
import re
import string
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from edms.definitions import DefinitionTable
from edms.documents.types.document_type import DocumentType
from edms.documents.types.model import (
    FIELD_TYPES,
    NAMED_SIGNERS,
    SIGNATURE_MEANINGS,
    SIGNING_ROLES,
    Choice,
    FieldDef,
    SignatureStep,
)

# Unbounded input is never accepted; a definition may lower or raise these.
DEFAULT_MAX_LENGTH = {"text": 200, "textarea": 20000}
# Digits a number may have written out in full (before and after the point): `1e2000000` would be two
# million. Integers stop at 15 digits, which the canonical JSON (RFC 8785, IEEE doubles) holds exactly.
DEFAULT_MAX_DIGITS = {"number": 20, "integer": 15}
HIGHEST_MAX_DIGITS = {"number": 100, "integer": 15}

# Keys that only make sense for some field types.
_TYPE_KEYS: dict[str, frozenset[str]] = {
    "max_length": frozenset({"text", "textarea"}),
    "max_digits": frozenset({"number", "integer"}),
    "pattern": frozenset({"text"}),
    "example": frozenset({"text"}),
    "min": frozenset({"number", "integer"}),
    "max": frozenset({"number", "integer"}),
    "unit": frozenset({"number", "integer"}),
    "choices": frozenset({"choice", "multichoice"}),
    "ref_types": frozenset({"document_refs"}),
    "accepts_prerequisites": frozenset({"document_refs"}),
    "safety": frozenset({"boolean"}),
}
_FIELD_KEYS = ("name", "type", "required", "label", "help", *_TYPE_KEYS)
_STEP_KEYS = ("name", "role", "roles", "meaning", "label", "approvals", "allow_same_signer", "after", "signer")
_TOP_KEYS = ("key", "numbering", "name", "description", "fields", "steps")

_NUMBER_LITERAL = re.compile(r"^[A-Za-z0-9_./-]*$")
_NUMBER_SPEC = re.compile(r"^(0?[1-9])?d?$")


class DefinitionError(ValueError):
    """A document type definition is invalid; the message names the file and the field path."""


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
        max_digits=table.integer("max_digits", default=DEFAULT_MAX_DIGITS.get(kind), high=HIGHEST_MAX_DIGITS.get(kind, 1)),
        minimum=table.decimal("min"),
        maximum=table.decimal("max"),
        unit=table.optional_string("unit"),
        choices=_parse_choices(table) if kind in ("choice", "multichoice") else (),
        ref_types=table.strings("ref_types"),
        accepts_prerequisites=table.boolean("accepts_prerequisites", False),
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
    for table, name in zip(tables, names, strict=True):
        if name in seen:
            raise table.error(f"duplicate {what} name '{name}'", "name")
        seen.add(name)


def _load_file(path: Path) -> DocumentType:
    """One definition on its own; its document_refs fields are resolved by load_document_types."""
    return _parse_file(path, path.read_bytes())


@functools.lru_cache(maxsize=256)
def _parse_file(path: Path, raw: bytes) -> DocumentType:
    """The definition in `raw`, parsed once per process for the exact bytes of the file (an app loads ~20 files
    of TOML, ~35 ms; the test suite builds ~3 000 apps): a file changed on disk is parsed afresh."""
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
            definition = _with_ref_types(definition, definition.ref_types, types)
        fields.append(definition)
    return replace(doc_type, fields=tuple(fields))


def _with_ref_types(definition: FieldDef, ref_types: tuple[str, ...], types: Mapping[str, DocumentType]) -> FieldDef:
    targets = [types[ref] for ref in ref_types] or list(types.values())
    union = "|".join(f"(?:{target.number_pattern.pattern})" for target in targets)
    return replace(definition, ref_types=ref_types, ref_pattern=re.compile(union),
                   ref_labels=tuple(types[ref].name for ref in ref_types))


def with_accepted_references(doc_type: DocumentType, extra: tuple[str, ...],
                             types: Mapping[str, DocumentType]) -> DocumentType:
    """The type as a case sees it: each reference field declared `accepts_prerequisites` also accepts the
    record types in `extra` (those the case's regime makes prerequisites of this one)."""
    fields = []
    for definition in doc_type.fields:
        if definition.type == "document_refs" and definition.accepts_prerequisites and definition.ref_types:
            wider = tuple(dict.fromkeys((*definition.ref_types, *(key for key in extra if key in types))))
            definition = _with_ref_types(definition, wider, types)
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
