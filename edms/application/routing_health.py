"""Routing never dead-ends silently: a submission that nobody active and ready now could carry to the end
is refused, and a submitted version that became stuck later (a signer locked, deactivated, untrained, a
role removed, a certificate revoked, a delegation ended) is shown on its page, in its owner's inbox and on
the administrators' list of stuck records, each with what would unblock it.

Computed on every read from the records, the people and their signing rights (no cache to go stale); the
administrators' list a page of versions in review at a time (`stuck_page`), so it stays flat as they grow.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, contains_eager

from edms.application.services import Services
from edms.audit import AuditContext
from edms.cases import models as cm
from edms.documents import models as dm
from edms.paging import Page, keyset_page
from edms.signatures.availability import Readiness, submission_completability, version_completability
from edms.users.models import User
from edms.workflow.completability import BlockedStep, Completability
from edms.workflow.operations import refuse_submission


@dataclass(frozen=True)
class StuckRecord:
    """A submitted version that can no longer be completed, and why."""

    document_id: int
    number: str
    title: str
    type_key: str
    version: int
    owner_id: int
    owner_name: str
    case_id: int | None
    case_reference: str | None
    since: datetime  # when the version was submitted
    blocked: BlockedStep


def check_submission(services: Services, session: Session, ctx: AuditContext, user: User, document: dm.Document,
                     *, now: datetime) -> None:
    """Inside the submission's use case, before anything changes: an audited refusal (SubmissionRefused) if
    the draft could not be completed by the people active and ready now. A draft the person may not submit
    anyway is left to the submission's own refusal."""
    draft = document.latest
    if document.status == dm.WITHDRAWN or draft is None or draft.frozen:
        return
    if user.id not in (draft.created_by, document.owner_id):
        return
    doc_type = services.document_types.get(document.type_key)
    if doc_type is None:
        return
    result = submission_completability(session, doc_type, document, user, now=now)
    if result.blocked is not None:
        raise refuse_submission(session, ctx, document, draft, result.blocked)


def completability(services: Services, session: Session, document: dm.Document, *, now: datetime,
                   readiness: Readiness | None = None) -> Completability | None:
    """For the document's latest version while it is in review; None otherwise (nothing left to sign)."""
    version = document.latest
    doc_type = services.document_types.get(document.type_key)
    if (doc_type is None or version is None or document.status == dm.WITHDRAWN or version.status != dm.IN_REVIEW
            or not version.frozen):
        return None
    return version_completability(session, doc_type, document, version, now=now, readiness=readiness)


def _in_review(owner_id: int | None):
    """The latest versions in review (frozen, of a record not withdrawn), as a query paged by
    (status_changed_at, id) on ix_document_versions_status_changed. The latest is the version the record names
    (`current_version`): PostgreSQL underestimates a correlated `max(version)` and sorted every version in review
    instead of walking the index (edms.application.tasks._latest_versions)."""
    query = (select(dm.DocumentVersion)
             .join(dm.Document, and_(dm.DocumentVersion.document_id == dm.Document.id,
                                     dm.DocumentVersion.version == dm.Document.current_version))
             .where(dm.DocumentVersion.status == dm.IN_REVIEW, dm.Document.status != dm.WITHDRAWN,
                    dm.DocumentVersion.frozen_at.is_not(None))
             .options(contains_eager(dm.DocumentVersion.document)))
    if owner_id is not None:
        query = query.where(dm.Document.owner_id == owner_id)
    return query


def _stuck(services: Services, session: Session, versions, now: datetime) -> list[StuckRecord]:
    readiness = Readiness(session, now)
    stuck = []
    versions = list(versions)
    # The versions' cases read at once (with their dates and answers), held while the loop finds them in the
    # session: one statement instead of three per version for the named people, the case's rules and reference.
    case_ids = {version.document.case_id for version in versions if version.document.case_id is not None}
    cases = list(session.scalars(select(cm.Case).where(cm.Case.id.in_(case_ids)))) if case_ids else []  # noqa: F841
    for version in versions:
        document = version.document
        doc_type = services.document_types.get(document.type_key)
        if doc_type is None:
            continue
        result = version_completability(session, doc_type, document, version, now=now, readiness=readiness)
        if result.blocked is None:
            continue
        owner = session.get(User, document.owner_id)
        case = session.get(cm.Case, document.case_id) if document.case_id else None
        stuck.append(StuckRecord(document.id, document.number, version.title, document.type_key, version.version,
                                 document.owner_id, owner.printed_name if owner else "", document.case_id,
                                 case.reference if case else None, version.status_changed_at, result.blocked))
    return stuck


def stuck_records(services: Services, session: Session, *, now: datetime, owner_id: int | None = None,
                  examine: int | None = None) -> list[StuckRecord]:
    """Every version in review that can no longer be completed (only `owner_id`'s, if given), oldest first; with
    `examine`, among the oldest that many versions in review only (the inbox's note: bounded per request)."""
    query = _in_review(owner_id).order_by(dm.DocumentVersion.status_changed_at, dm.DocumentVersion.id)
    if examine is not None:
        query = query.limit(examine)
    return _stuck(services, session, session.scalars(query), now)


def stuck_page(services: Services, session: Session, *, now: datetime, cursor: str | None,
               limit: int) -> Page[StuckRecord]:
    """The stuck records among the next `limit` versions in review after `cursor`, oldest first.

    Whether a version can be completed depends on the people who could sign it now (their accounts, roles,
    training, certificates and delegations, some of which lapse with time alone), so it is computed when read,
    not stored; but only for one page of versions in review, so a page costs the same however many there are.
    A page may hold fewer stuck records than `limit` (even none) and still have a next one: the cursor is
    where the examination stopped."""
    page = keyset_page(session, _in_review(None), [dm.DocumentVersion.status_changed_at, dm.DocumentVersion.id],
                       cursor=cursor, limit=limit, descending=False)
    return Page(_stuck(services, session, page.items, now), page.next)
