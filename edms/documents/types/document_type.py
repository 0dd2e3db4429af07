"""A loaded document type: its fields and steps, the numbers of its records, and validating a record."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edms.definitions import LocalizedText
from edms.documents.types.model import FieldDef, SignatureStep
from edms.documents.types.values import (
    FieldError,
    InvalidValue,
    canonical_value,
    clean_value,
)
from edms.errors import N_


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
                errors[str(name)] = FieldError(N_("Unknown field: %(type)s has no field '%(name)s'."),
                                               type=self.name, name=name)
        for definition in self.fields:
            try:
                values[definition.name] = clean_value(definition, raw.get(definition.name), zone)
            except InvalidValue as invalid:
                errors[definition.name] = invalid.error
        return ValidationResult(values=values, errors=errors)

    def canonical(self, values: Mapping[str, object]) -> dict[str, Any]:
        """JSON-ready content for hashing and storage (JSON values, hence `Any`)."""
        return {definition.name: canonical_value(definition, values.get(definition.name)) for definition in self.fields}
