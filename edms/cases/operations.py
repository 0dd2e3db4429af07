"""Every state change of a case, audited in the same transaction, and what the case needs next."""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.audit import AuditContext, record
from edms.cases import models as cm
from edms.cases.deadlines import DeadlineStatus, compute_deadlines, not_yet_permitted
from edms.cases.regimes import CASE_DATES, Blocker, CaseRecord, ChecklistItem, Regime, administration_blockers, checklist
from edms.cases.regimes import resolve_anchors, resolve_conditions, signing_blockers
from edms.documents import models as dm
from edms.documents.operations import next_in_sequence
from edms.documents.types import DocumentType, LocalizedText
from edms.errors import N_, UserError
from edms.plaintext import UnsafeText, check_text
from edms.timeutil import format_in_zone, is_valid_zone, require_aware, utc_now
from edms.users.models import User
from edms.users.roles import AUTHOR, PHYSICIAN, QA, REGULATORY

# Manufacturing, QA and regulatory open cases; the physician is named on it.
CASE_OPENERS = (AUTHOR, QA, REGULATORY)
PATIENT_REF_PATTERN = r"PT-[A-Z0-9]{4,12}"


class CaseError(UserError):
    """A refused case operation; the message is shown to the person who asked."""


@dataclass(frozen=True)
class CaseFacts:
    regime_key: str
    product: str
    lot: str
    patient_ref: str
    treating_site: str
    site_timezone: str
    physician_id: int | None
    oos_detected_at: datetime


def create_case(session: Session, ctx: AuditContext, user: User, regimes: Mapping[str, Regime], facts: CaseFacts) -> cm.Case:
    if not user.has_role(*CASE_OPENERS):
        raise CaseError(N_("Only manufacturing, QA or regulatory users open cases."))
    regime = regimes.get(facts.regime_key)
    if regime is None:
        raise CaseError(N_("Unknown regime '%(regime)s'."), regime=facts.regime_key)
    for name, value, longest in (("product", facts.product, 200), ("lot", facts.lot, 64),
                                 ("treating site", facts.treating_site, 200)):
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
    if not is_valid_zone(facts.site_timezone):
        raise CaseError(N_("Unknown time zone '%(zone)s'."), zone=facts.site_timezone)
    if facts.physician_id is not None:
        physician = session.get(User, facts.physician_id)
        if physician is None or not physician.active or not physician.has_role(PHYSICIAN):
            raise CaseError(N_("The treating physician must be an active user with the physician role."))
    now = utc_now()
    case = cm.Case(
        reference=f"CASE-{now.year}-{next_in_sequence(session, 'case', now.year):04d}",
        regime_key=regime.key, jurisdiction=regime.jurisdiction,
        product=facts.product.strip(), lot=facts.lot.strip(), patient_ref=facts.patient_ref.strip(),
        treating_site=facts.treating_site.strip(), site_timezone=facts.site_timezone, physician_id=facts.physician_id,
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
            "treating_site": case.treating_site, "site_timezone": case.site_timezone,
            "physician_id": case.physician_id, "oos_detected": facts.oos_detected_at.isoformat(),
        }.items()})
    return case


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


def case_documents(session: Session, case: cm.Case) -> list[dm.Document]:
    return list(session.scalars(select(dm.Document).where(dm.Document.case_id == case.id).order_by(dm.Document.id)))


def case_records(session: Session, case: cm.Case, types: Mapping[str, DocumentType]) -> list[CaseRecord]:
    """Each record as the regime sees it: its approved version, or its latest draft while none is approved."""
    records = []
    for document in case_documents(session, case):
        if document.status == dm.WITHDRAWN or document.type_key not in types:
            continue
        approved = [v for v in document.versions if v.status == dm.APPROVED]
        version = approved[-1] if approved else document.latest
        values = types[document.type_key].validate(json.loads(version.content), zone=case.site_timezone).values
        records.append(CaseRecord(type_key=document.type_key, values=values, approved=bool(approved)))
    return records


@dataclass(frozen=True)
class CaseStatus:
    regime: Regime
    checklist: list[ChecklistItem]
    deadlines: list[DeadlineStatus]
    administration_blockers: list[Blocker]
    conditions: dict[str, bool | None]


def case_status(session: Session, case: cm.Case, types: Mapping[str, DocumentType], regimes: Mapping[str, Regime],
                now: datetime | None = None) -> CaseStatus:
    regime = regimes[case.regime_key]
    records = case_records(session, case, types)
    conditions = resolve_conditions(regime, answers=case.current_answers(), records=records)
    anchors = resolve_anchors(regime, case_dates=case.current_dates(), records=records)
    now = now or utc_now()
    deadlines = compute_deadlines(regime, anchors, site_zone=case.site_timezone, now=now, conditions=conditions,
                                  holidays=regime.holidays)
    for record_type in dict.fromkeys(d.record_type for d in regime.deadlines if d.record_type):
        # A per-record clock (e.g. each adverse event's report) runs from that record's own dates.
        for record in (r for r in records if r.type_key == record_type):
            own = [record]
            deadlines += compute_deadlines(
                regime, resolve_anchors(regime, case_dates=case.current_dates(), records=own), site_zone=case.site_timezone,
                now=now, conditions=resolve_conditions(regime, answers=case.current_answers(), records=own),
                holidays=regime.holidays, record_type=record_type)
    return CaseStatus(
        regime=regime,
        checklist=checklist(regime, records=records, conditions=conditions),
        deadlines=deadlines,
        administration_blockers=administration_blockers(regime, records=records, conditions=conditions)
        + _waiting_periods(deadlines, case.site_timezone),
        conditions=conditions,
    )


def _waiting_periods(deadlines: list[DeadlineStatus], zone: str) -> list[Blocker]:
    """A "not before" clock still running (e.g. 30 days after FDA's receipt) forbids administration."""
    blockers = []
    for status in not_yet_permitted(deadlines):
        label = status.deadline.label
        if status.due_at is None:
            blockers.append(Blocker(LocalizedText(f"{label.en}: its start date is not recorded yet.",
                                                  f"{label.ja}：起算日がまだ記録されていません。")))
        else:
            when = format_in_zone(status.due_at, zone)
            blockers.append(Blocker(LocalizedText(f"{label.en}: not before {when}.", f"{label.ja}：{when} 以降。")))
    return blockers


def signing_gate(session: Session, document: dm.Document, types: Mapping[str, DocumentType],
                 regimes: Mapping[str, Regime]) -> list[Blocker]:
    """Why a case record may not be signed yet: its regime's prerequisites (21 CFR 11.10(f))."""
    if document.case_id is None:
        return []
    case = session.get(cm.Case, document.case_id)
    regime = regimes.get(case.regime_key) if case else None
    if regime is None:
        return []
    if not any(item.type_key == document.type_key for item in regime.documents):
        return []
    records = case_records(session, case, types)
    conditions = resolve_conditions(regime, answers=case.current_answers(), records=records)
    return signing_blockers(regime, document.type_key, records=records, conditions=conditions)


def case_signing_reasons(session: Session, document: dm.Document, *, types: Mapping[str, DocumentType],
                         regimes: Mapping[str, Regime]) -> list[LocalizedText]:
    """The case gate as the signing ceremony consumes it: one sentence per blocker, in both languages."""
    return [blocker.reason for blocker in signing_gate(session, document, types, regimes)]
