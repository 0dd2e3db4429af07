"""Records written outside any case that a case could take in: of a type its regime uses, not withdrawn,
and naming the case's lot and patient wherever their type has those fields."""
from __future__ import annotations

import json
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.cases import models as cm
from edms.cases.regimes import Regime
from edms.documents import models as dm
from edms.documents.types import DocumentType

LIMIT = 200

# What ties a record to one patient's lot: where a record's type has these fields, they must be the case's.
CASE_IDENTITY_FIELDS = (("lot", "lot"), ("patient_ref", "patient_ref"))


def _same_patient_and_lot(case: cm.Case, document: dm.Document, doc_type: DocumentType) -> bool:
    values = json.loads(document.latest.content)
    names = {field.name for field in doc_type.fields}
    return all(values.get(name) in (None, "", getattr(case, attribute))
               for name, attribute in CASE_IDENTITY_FIELDS if name in names)


def attachable_documents(session: Session, case: cm.Case, *, types: Mapping[str, DocumentType],
                         regimes: Mapping[str, Regime]) -> list[dm.Document]:
    """The candidates, newest first (at most LIMIT); attaching still checks each rule again."""
    regime = regimes.get(case.regime_key)
    if regime is None:
        return []
    used = [entry.type_key for entry in regime.documents if entry.type_key in types]
    query = (select(dm.Document).where(dm.Document.case_id.is_(None), dm.Document.type_key.in_(used),
                                       dm.Document.status != dm.WITHDRAWN)
             .order_by(dm.Document.id.desc()).limit(LIMIT))
    return [document for document in session.scalars(query)
            if _same_patient_and_lot(case, document, types[document.type_key])]


def document_by_number(session: Session, number: str) -> dm.Document | None:
    return session.scalar(select(dm.Document).where(dm.Document.number == number.strip()))
