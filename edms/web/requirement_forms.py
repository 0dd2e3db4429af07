"""The case's requirements on a record's form: shown next to each field, filled in where the case decides
the value, and warned about at entry (the rules are in edms.cases.requirements; this only shows them)."""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from flask import flash
from flask_babel import get_locale
from flask_babel import gettext as _

from edms.cases import models as cm
from edms.cases.regimes.requirements import FieldRequirement
from edms.cases.requirements import field_warnings, prerequisite_numbers, requirements_in_case, type_in_case
from edms.definitions import LocalizedText
from edms.documents import models as m
from edms.documents.types import DocumentType
from edms.web.runtime import db, services


@dataclass
class RecordForm:
    """What the form of one record shows from its case: the type as the case sees it (wider references),
    the requirements per field and the warnings on the values entered."""

    doc_type: DocumentType
    case: cm.Case | None
    requirements: dict[str, list[FieldRequirement]] = field(default_factory=dict)
    warnings: dict[str, LocalizedText] = field(default_factory=dict)


def _empty(value: object) -> bool:
    return value is None or value == "" or value == [] or value == ()


def record_form(doc_type: DocumentType, case: cm.Case | None, document_id: int | None = None) -> RecordForm:
    types, regimes = services().document_types, services().regimes
    form = RecordForm(type_in_case(doc_type, case, types=types, regimes=regimes), case)
    for requirement in requirements_in_case(db(), case, doc_type.key, types=types, regimes=regimes,
                                            document_id=document_id):
        form.requirements.setdefault(requirement.field.name, []).append(requirement)
    return form


def prefill(form: RecordForm, values: dict[str, object]) -> dict[str, object]:
    """A new record of the case starts with what the case requires (never a decision) and, in its "records
    relied on", the case's records of the types it accepts."""
    filled = dict(values)
    for name, requirements in form.requirements.items():
        for requirement in requirements:
            if requirement.prefill is not None and _empty(filled.get(name)):
                value = requirement.prefill
                filled[name] = ("yes" if value else "no") if isinstance(value, bool) else value
    numbers = prerequisite_numbers(db(), form.case, form.doc_type, types=services().document_types,
                                   regimes=services().regimes)
    for name, found in numbers.items():
        if _empty(filled.get(name)) and found:
            filled[name] = found
    return filled


def warn(form: RecordForm, raw: Mapping[str, object]) -> dict[str, LocalizedText]:
    """Warnings on the values entered (fields left empty are the "required" check's business)."""
    if not form.requirements:
        return {}
    zone = form.case.site_timezone if form.case is not None else None
    values = form.doc_type.validate({k: v for k, v in raw.items() if any(f.name == k for f in form.doc_type.fields)},
                                    zone=zone).values
    requirements = [r for name, items in form.requirements.items() for r in items if not _empty(values.get(name))]
    form.warnings = field_warnings(requirements, values)
    return form.warnings


def flash_warnings(document: m.Document) -> None:
    """After a save: what in the record cannot (or, for a decision, does not) satisfy the case's gate."""
    if document.case_id is None:
        return
    case = db().get(cm.Case, document.case_id)
    form = record_form(services().document_types[document.type_key], case, document.id)
    language = str(get_locale() or "en")
    for name, reason in warn(form, json.loads(document.latest.content)).items():
        label = form.doc_type.field(name).label.text(language)
        flash(_("Check %(field)s: %(reason)s", field=label, reason=reason.text(language)), "warning")
