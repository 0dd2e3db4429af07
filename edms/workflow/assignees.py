"""The people a record's signing steps may name, resolved from the record's case."""
from __future__ import annotations

from sqlalchemy.orm import Session

from edms.cases.models import Case
from edms.documents import models as dm
from edms.documents.types import CASE_PHYSICIAN
from edms.users.models import User
from edms.workflow.routing import NamedPerson


def named_people(session: Session, document: dm.Document) -> dict[str, NamedPerson | None]:
    """{named signer: person}; empty outside a case, where the step's role alone decides."""
    if document.case_id is None:
        return {}
    case = session.get(Case, document.case_id)
    physician = session.get(User, case.physician_id) if case is not None and case.physician_id else None
    return {CASE_PHYSICIAN: NamedPerson(physician.id, physician.printed_name) if physician else None}
