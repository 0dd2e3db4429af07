"""Every state change of a case, audited in the same transaction."""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import NoReturn

from sqlalchemy.orm import Session

from edms.audit import AuditContext, record
from edms.cases import models as cm
from edms.cases.attachable import CASE_IDENTITY_FIELDS
from edms.cases.errors import CaseError, RequirementNotMet
from edms.cases.facts import CASE_OPENERS, PATIENT_REF_PATTERN, CaseFacts
from edms.cases.queries import case_records, case_status
from edms.cases.regimes import CASE_DATES, Regime, administration_blockers
from edms.definitions import LocalizedText
from edms.documents import models as dm
from edms.documents.operations import next_in_sequence
from edms.documents.types import DocumentType
from edms.errors import N_
from edms.plaintext import UnsafeText, check_text
from edms.sites.errors import SiteError
from edms.sites.models import Site
from edms.sites.operations import register_site
from edms.sites.queries import site_by_name
from edms.sites.zones import country_of_zone
from edms.timeutil import is_valid_zone, require_aware, utc_now
from edms.users.models import User
from edms.users.roles import ADMIN, AUTHOR, PHYSICIAN, QA, REGULATORY


def create_case(session: Session, ctx: AuditContext, user: User, regimes: Mapping[str, Regime], facts: CaseFacts) -> cm.Case:
    if not user.has_role(*CASE_OPENERS):
        raise CaseError(N_("Only manufacturing, QA or regulatory users open cases."))
    regime = regimes.get(facts.regime_key)
    if regime is None:
        raise CaseError(N_("Unknown regime '%(regime)s'."), regime=facts.regime_key)
    for name, value, longest in (("product", facts.product, 200), ("lot", facts.lot, 64)):
        if not value.strip():
            raise CaseError(N_("The %(what)s is required."), what=name)
        try:
            check_text(value)
        except UnsafeText as exc:
            raise CaseError(N_("The %(what)s may not hold %(code)s: control, bidirectional and invisible characters "
                               "are refused."), what=name, code=exc.params["code"]) from None
        if len(value.strip()) > longest:
            raise CaseError(N_("The %(what)s is too long (%(limit)s characters at most)."), what=name, limit=longest)
    if not re.fullmatch(PATIENT_REF_PATTERN, facts.patient_ref.strip()):
        raise CaseError(N_("The patient reference must be a pseudonymous code such as PT-7Q4X, never a name."))
    site = _site(session, ctx, user, facts)
    if facts.physician_id is not None:
        physician = session.get(User, facts.physician_id)
        if physician is None or not physician.active or not physician.has_role(PHYSICIAN):
            raise CaseError(N_("The treating physician must be an active user with the physician role."))
    now = utc_now()
    case = cm.Case(
        reference=f"CASE-{now.year}-{next_in_sequence(session, 'case', now.year):04d}",
        regime_key=regime.key, jurisdiction=regime.jurisdiction,
        product=facts.product.strip(), lot=facts.lot.strip(), patient_ref=facts.patient_ref.strip(),
        site_id=site.id, opened_site_name=site.name, opened_site_timezone=site.timezone, physician_id=facts.physician_id,
        status=cm.OPEN, created_by=user.id, created_at=now,
    )
    session.add(case)
    session.flush()
    session.add(cm.CaseDate(case_id=case.id, key="oos_detected", value=require_aware(facts.oos_detected_at),
                            recorded_by=user.id, recorded_at=now))
    session.flush()
    session.refresh(case)
    record(session, ctx, "case.created", "case", case.id, case_id=case.id, changes={
        name: {"old": None, "new": value} for name, value in {
            "reference": case.reference, "regime": regime.key, "jurisdiction": regime.jurisdiction,
            "product": case.product, "lot": case.lot, "patient_ref": case.patient_ref,
            "site_id": site.id, "treating_site": site.name, "site_timezone": site.timezone,
            "physician_id": case.physician_id, "oos_detected": facts.oos_detected_at.isoformat(),
        }.items()})
    return case


def _site(session: Session, ctx: AuditContext, user: User, facts: CaseFacts) -> Site:
    """The case's site: the record named by id, else the one of that name (registered if there is none)."""
    if facts.site_id is not None:
        site = session.get(Site, facts.site_id)
        if site is None:
            raise CaseError(N_("Choose the treating site from the list of sites."))
        return site
    name = facts.treating_site.strip()
    if not name:
        raise CaseError(N_("The %(what)s is required."), what="treating site")
    site = site_by_name(session, name)
    if site is not None:
        if facts.site_timezone and facts.site_timezone != site.timezone:
            raise CaseError(N_("The site %(site)s keeps its times in %(zone)s."), site=site.name, zone=site.timezone)
        return site
    if not is_valid_zone(facts.site_timezone):
        raise CaseError(N_("Unknown time zone '%(zone)s'."), zone=facts.site_timezone)
    try:
        return register_site(session, ctx, user, name, facts.site_timezone,
                             country_of_zone(facts.site_timezone) or "ZZ", reason="named when a case was opened")
    except SiteError as exc:
        raise CaseError(exc.message, **exc.params) from None


def record_date(session: Session, ctx: AuditContext, user: User, case: cm.Case, key: str, value: datetime,
                reason: str | None) -> None:
    """A case date; correcting one already recorded needs a reason and keeps the earlier value."""
    if key not in CASE_DATES:
        raise CaseError(N_("Unknown case date '%(key)s'."), key=key)
    if not user.has_role(AUTHOR, QA, PHYSICIAN, REGULATORY):
        raise CaseError(N_("Only manufacturing, QA, regulatory users or physicians record case dates."))
    if case.status == cm.CANCELLED:
        raise CaseError(N_("The case is cancelled."))
    previous = case.current_dates().get(key)
    if previous is not None and not (reason or "").strip():
        raise CaseError(N_("A reason is required to change a date already recorded."))
    value = require_aware(value)
    session.add(cm.CaseDate(case_id=case.id, key=key, value=value, reason=(reason or "").strip() or None,
                            recorded_by=user.id, recorded_at=utc_now()))
    session.flush()
    session.refresh(case)
    record(session, ctx, "case.date_recorded", "case", case.id, case_id=case.id, reason=(reason or "").strip() or None,
           changes={key: {"old": previous.isoformat() if previous else None, "new": value.isoformat()}})


def answer_question(session: Session, ctx: AuditContext, user: User, case: cm.Case, regime: Regime, key: str,
                    answer: bool, reason: str | None) -> None:
    condition = regime.conditions.get(key)
    if condition is None or condition.asked_of is None:
        raise CaseError(N_("This case's regime asks no question '%(key)s'."), key=key)
    if not user.has_role(condition.asked_of):
        raise CaseError(N_("Only a user with the %(role)s role answers this question."), role=condition.asked_of)
    previous = case.current_answers().get(key)
    if previous is not None and not (reason or "").strip():
        raise CaseError(N_("A reason is required to change an answer."))
    session.add(cm.CaseAnswer(case_id=case.id, key=key, answer=answer, reason=(reason or "").strip() or None,
                              recorded_by=user.id, recorded_at=utc_now()))
    session.flush()
    session.refresh(case)
    record(session, ctx, "case.question_answered", "case", case.id, case_id=case.id, reason=(reason or "").strip() or None,
           changes={key: {"old": previous, "new": answer}})


def change_physician(session: Session, ctx: AuditContext, actor: User, case: cm.Case, physician: User,
                     reason: str) -> User | None:
    """An administrator names another treating physician (the named one is absent or leaving); returns the
    one taken off. Steps that name the case's physician then wait for the new one."""
    if not actor.has_role(ADMIN):
        raise CaseError(N_("Only an administrator changes a case's treating physician."))
    if not (reason or "").strip():
        raise CaseError(N_("A reason is required."))
    try:
        check_text(reason, multi_line=True)
    except UnsafeText as exc:
        raise CaseError(exc.message, **exc.params) from None
    if not physician.active or physician.locked or not physician.has_role(PHYSICIAN):
        raise CaseError(N_("The treating physician must be an active user with the physician role."))
    if physician.id == case.physician_id:
        raise CaseError(N_("%(name)s is already the case's treating physician."), name=physician.printed_name)
    previous = session.get(User, case.physician_id) if case.physician_id is not None else None
    case.physician_id = physician.id
    record(session, ctx, "case.physician_changed", "case", case.id, case_id=case.id, reason=reason.strip(),
           changes={"physician": {"old": previous.username if previous else None, "new": physician.username}})
    return previous


def set_status(session: Session, ctx: AuditContext, user: User, case: cm.Case, status: str, reason: str, *,
               types: Mapping[str, DocumentType], regimes: Mapping[str, Regime]) -> None:
    """Released only once the regime's release record is approved and nothing blocks administration."""
    if status not in cm.CASE_STATUSES:
        raise CaseError(N_("Unknown case status '%(status)s'."), status=status)
    if not (reason or "").strip():
        raise CaseError(N_("A reason is required."))
    if not user.has_role(QA, REGULATORY):
        raise CaseError(N_("Only QA or regulatory users close or cancel a case."))
    if status == cm.RELEASED:
        regime = regimes[case.regime_key]
        blockers = administration_blockers(regime, records=case_records(session, case, types),
                                           conditions=case_status(session, case, types, regimes).conditions)
        if blockers:
            raise CaseError(N_("The case cannot be marked released: %(reasons)s"),
                            reasons=" ".join(blocker.reason.en for blocker in blockers))
    old = case.status
    case.status = status
    record(session, ctx, "case.status_changed", "case", case.id, case_id=case.id, reason=reason.strip(),
           changes={"status": {"old": old, "new": status}})


def refuse_submission(session: Session, ctx: AuditContext, user: User, document: dm.Document, case: cm.Case,
                      reasons: Mapping[str, LocalizedText]) -> NoReturn:
    """A record that could never satisfy its case's gate is not submitted: the refusal is audited, with the
    fields and the values the case needs, and nothing else changes."""
    error = RequirementNotMet(document.number, case.reference, reasons)
    record(session, ctx, "document.submission_refused", "document", document.id,
           document_version=document.latest.version, case_id=case.id, reason=str(error))
    raise error


def attach_document(session: Session, ctx: AuditContext, user: User, case: cm.Case, document: dm.Document,
                    regime: Regime, doc_type: DocumentType, reason: str) -> None:
    """A record written outside any case joins this one (its checklist then counts it), with a reason; the
    record must be of the case's lot and patient and of a type the case's regime uses."""
    reason = (reason or "").strip()
    if not reason:
        raise CaseError(N_("A reason is required to attach a record to a case."))
    try:
        check_text(reason, multi_line=True)
    except UnsafeText as exc:
        raise CaseError(exc.message, **exc.params) from None
    if not user.has_role(AUTHOR, QA, PHYSICIAN, REGULATORY):
        raise CaseError(N_("Only manufacturing, QA, regulatory users or physicians attach records to a case."))
    if case.status not in (cm.OPEN, cm.RELEASED):
        raise CaseError(N_("Case %(case)s is closed or cancelled: no record can be attached to it."),
                        case=case.reference)
    if document.status == dm.WITHDRAWN:
        raise CaseError(N_("%(number)s has been withdrawn and cannot be attached to a case."), number=document.number)
    if document.case_id is not None:
        other = session.get(cm.Case, document.case_id)
        raise CaseError(N_("%(number)s already belongs to case %(case)s."), number=document.number,
                        case=other.reference if other is not None else str(document.case_id))
    if not any(entry.type_key == document.type_key for entry in regime.documents):
        raise CaseError(N_("%(number)s is a record of the type “%(type)s”, which case %(case)s does not use "
                           "(%(regime)s)."), number=document.number, type=doc_type.name, case=case.reference,
                        regime=regime.name)
    values = json.loads(document.latest.content)
    for field_name, attribute in CASE_IDENTITY_FIELDS:
        if not any(field.name == field_name for field in doc_type.fields):
            continue
        value, expected = values.get(field_name), getattr(case, attribute)
        if value not in (None, "") and value != expected:
            raise CaseError(N_("%(number)s names %(what)s %(value)s, but case %(case)s is for %(expected)s."),
                            number=document.number, what=doc_type.field(field_name).label, value=value,
                            case=case.reference, expected=expected)
    document.case_id = case.id
    session.flush()
    record(session, ctx, "document.attached_to_case", "document", document.id,
           document_version=document.current_version, case_id=case.id, reason=reason,
           changes={"case_id": {"old": None, "new": case.id}, "case": {"old": None, "new": case.reference}})
