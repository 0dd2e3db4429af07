"""A case's requirements on one of its records, read from the database: what the form shows next to each
field and fills in, what it warns about, what submission refuses, and which records a reference field of
the record may name in this case."""
from __future__ import annotations

import json
from collections.abc import Mapping

from sqlalchemy.orm import Session

from edms.cases import models as cm
from edms.cases.queries import case_documents
from edms.cases.regimes import CaseRecord, Regime
from edms.cases.regimes.gates import _evaluate
from edms.cases.regimes.requirements import FieldRequirement, accepted_references, record_requirements, unmet
from edms.definitions import LocalizedText
from edms.documents import models as dm
from edms.documents.types import DocumentType, with_accepted_references


def _records(session: Session, case: cm.Case, types: Mapping[str, DocumentType],
             exclude: int | None = None) -> list[CaseRecord]:
    """The case's records as the regime sees them (approved version, else the latest draft), but one."""
    records = []
    for document in case_documents(session, case):
        if document.id == exclude or document.status == dm.WITHDRAWN or document.type_key not in types:
            continue
        approved = [v for v in document.versions if v.status == dm.APPROVED]
        version = approved[-1] if approved else document.latest
        values = types[document.type_key].validate(json.loads(version.content), zone=case.site_timezone).values
        records.append(CaseRecord(type_key=document.type_key, values=values, approved=bool(approved)))
    return records


def case_regime(case: cm.Case | None, regimes: Mapping[str, Regime]) -> Regime | None:
    return None if case is None else regimes.get(case.regime_key)


def requirements_in_case(session: Session, case: cm.Case | None, type_key: str, *, types: Mapping[str, DocumentType],
                         regimes: Mapping[str, Regime], document_id: int | None = None) -> list[FieldRequirement]:
    """What the case's regime requires of a record of `type_key` (the record `document_id` itself aside)."""
    regime = case_regime(case, regimes)
    if case is None or regime is None:
        return []
    return record_requirements(regime, type_key, _records(session, case, types, exclude=document_id))


def field_warnings(requirements: list[FieldRequirement], values: Mapping[str, object]) -> dict[str, LocalizedText]:
    """Per field, why the values entered cannot (or, for a decision, do not) satisfy the case's gate."""
    return unmet(requirements, values)


def submission_shortfalls(session: Session, document: dm.Document, *, types: Mapping[str, DocumentType],
                          regimes: Mapping[str, Regime]) -> dict[str, LocalizedText]:
    """Why the document's draft could never satisfy its case's gate, per field: the regime's requirements on
    what the record is (not its outcome: a refused consent is a true record). Empty when the record is in no
    case, its type is not one of the regime's, or another record of the case already satisfies the gate."""
    case = session.get(cm.Case, document.case_id) if document.case_id is not None else None
    regime = case_regime(case, regimes)
    if case is None or regime is None or document.type_key not in types:
        return {}
    entry = next((d for d in regime.documents if d.type_key == document.type_key), None)
    if entry is None:
        return {}
    others = _records(session, case, types, exclude=document.id)
    if _evaluate(entry, others)[0]:
        return {}
    doc_type = types[document.type_key]
    values = doc_type.validate(json.loads(document.latest.content), zone=case.site_timezone).values
    return unmet(record_requirements(regime, document.type_key, others), values, outcomes=False)


def type_in_case(doc_type: DocumentType, case: cm.Case | None, *, types: Mapping[str, DocumentType],
                 regimes: Mapping[str, Regime]) -> DocumentType:
    """The document type as the case sees it: its reference fields that accept prerequisites also accept
    every record type the case's regime makes a prerequisite of it."""
    regime = case_regime(case, regimes)
    if regime is None:
        return doc_type
    extra = accepted_references(regime, doc_type.key)
    return with_accepted_references(doc_type, extra, types) if extra else doc_type


def prerequisite_numbers(session: Session, case: cm.Case | None, doc_type: DocumentType, *,
                         types: Mapping[str, DocumentType], regimes: Mapping[str, Regime]) -> dict[str, list[str]]:
    """For each reference field that accepts prerequisites, the numbers of the case's records it accepts
    (withdrawn ones aside): offered pre-filled on a new record of the case."""
    if case is None:
        return {}
    wide = type_in_case(doc_type, case, types=types, regimes=regimes)
    documents = [d for d in case_documents(session, case) if d.status != dm.WITHDRAWN]
    return {field.name: [d.number for d in documents if d.type_key in field.ref_types]
            for field in wide.fields if field.type == "document_refs" and field.accepts_prerequisites}
