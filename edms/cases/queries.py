"""What a case needs next, read from its records: its checklist, deadlines and blockers, and why one of
its records may not be signed yet."""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.cases import models as cm
from edms.cases.deadlines import DeadlineStatus, compute_deadlines, not_yet_permitted
from edms.cases.regimes import (
    Blocker,
    CaseRecord,
    ChecklistItem,
    Regime,
    administration_blockers,
    checklist,
    resolve_anchors,
    resolve_conditions,
    signing_blockers,
)
from edms.cases.retention import RecordRetention, record_retention
from edms.documents import models as dm
from edms.documents.types import DocumentType, LocalizedText
from edms.timeutil import format_in_zone, utc_now


def case_documents(session: Session, case: cm.Case) -> list[dm.Document]:
    return list(session.scalars(select(dm.Document).where(dm.Document.case_id == case.id).order_by(dm.Document.id)))


def case_records(session: Session, case: cm.Case, types: Mapping[str, DocumentType]) -> list[CaseRecord]:
    """Each record as the regime sees it: its approved version, or its latest draft while none is approved."""
    return records_of(case_documents(session, case), types, case.site_timezone)


class StoredVersion(Protocol):
    """What the regime reads of a version: an ORM version, or a row read with Core (the case page's state)."""

    @property
    def status(self) -> str: ...

    @property
    def content(self) -> str: ...


class StoredDocument(Protocol):
    @property
    def type_key(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def versions(self) -> Sequence[StoredVersion]: ...


def records_of(documents: Iterable[StoredDocument], types: Mapping[str, DocumentType], zone: str) -> list[CaseRecord]:
    """`case_records` of documents already read (in id order, each with its versions in version order)."""
    records = []
    for document in documents:
        if document.status == dm.WITHDRAWN or document.type_key not in types:
            continue
        approved = [v for v in document.versions if v.status == dm.APPROVED]
        version = approved[-1] if approved else document.versions[-1]
        values = record_values(types[document.type_key], version.content, zone)
        records.append(CaseRecord(type_key=document.type_key, values=values, approved=bool(approved)))
    return records


_VALUES_KEPT = 4096
_values: OrderedDict[tuple[str, str, str, str], Mapping[str, object]] = OrderedDict()
_values_lock = threading.Lock()


def record_values(doc_type: DocumentType, content: str, zone: str) -> Mapping[str, object]:
    """The clean values of a version's stored content (`DocumentType.validate`, a pure function of the type's
    exact definition, the content and the zone): validated once per exact input and kept (read-only)."""
    key = (doc_type.key, doc_type.source_sha256, content, zone)
    with _values_lock:
        found = _values.get(key)
        if found is not None:
            _values.move_to_end(key)
            return found
    values = MappingProxyType(doc_type.validate(json.loads(content), zone=zone).values)
    with _values_lock:
        _values[key] = values
        while len(_values) > _VALUES_KEPT:
            _values.popitem(last=False)
    return values


@dataclass(frozen=True)
class CaseStatus:
    regime: Regime
    checklist: list[ChecklistItem]
    deadlines: list[DeadlineStatus]
    administration_blockers: list[Blocker]
    conditions: dict[str, bool | None]
    retention: list[RecordRetention] = field(default_factory=list)  # every record of the case, withdrawn ones too


def case_status(session: Session, case: cm.Case, types: Mapping[str, DocumentType], regimes: Mapping[str, Regime],
                now: datetime | None = None) -> CaseStatus:
    regime = regimes[case.regime_key]
    records = case_records(session, case, types)
    answers, dates, zone = case.current_answers(), case.current_dates(), case.site_timezone
    conditions = resolve_conditions(regime, answers=answers, records=records)
    deadlines = deadlines_of(regime, records, answers=answers, dates=dates, zone=zone, now=now or utc_now())
    return CaseStatus(
        regime=regime,
        checklist=checklist(regime, records=records, conditions=conditions),
        deadlines=deadlines,
        administration_blockers=release_blockers(regime, records, conditions, deadlines, zone),
        conditions=conditions,
        retention=case_retention(session, case, regime),
    )


def deadlines_of(regime: Regime, records: list[CaseRecord], *, answers: Mapping[str, bool], dates: Mapping[str, datetime],
                 zone: str, now: datetime) -> list[DeadlineStatus]:
    """The case's deadlines stated at `now`: the case-level ones, then each record's own clocks."""
    conditions = resolve_conditions(regime, answers=answers, records=records)
    anchors = resolve_anchors(regime, case_dates=dates, records=records)
    deadlines = compute_deadlines(regime, anchors, site_zone=zone, now=now, conditions=conditions,
                                  holidays=regime.holidays)
    for record_type in dict.fromkeys(d.record_type for d in regime.deadlines if d.record_type):
        # A per-record clock (e.g. each adverse event's report) runs from that record's own dates.
        for record in (r for r in records if r.type_key == record_type):
            own = [record]
            deadlines += compute_deadlines(
                regime, resolve_anchors(regime, case_dates=dates, records=own), site_zone=zone,
                now=now, conditions=resolve_conditions(regime, answers=answers, records=own),
                holidays=regime.holidays, record_type=record_type)
    return deadlines


def release_blockers(regime: Regime, records: list[CaseRecord], conditions: Mapping[str, bool | None],
                     deadlines: list[DeadlineStatus], zone: str) -> list[Blocker]:
    """What forbids administration: the release and safety gates, then the waiting periods still running."""
    return administration_blockers(regime, records=records, conditions=conditions) + _waiting_periods(deadlines, zone)


def case_retention(session: Session, case: cm.Case, regime: Regime) -> list[RecordRetention]:
    """How long each record of the case must be kept, and from when (the regime's retention or its type's)."""
    rows = []
    for document in case_documents(session, case):
        approved = [v for v in document.versions if v.status == dm.APPROVED]
        row = record_retention(regime, number=document.number, type_key=document.type_key,
                               case_dates=case.current_dates(),
                               approved_at=approved[-1].status_changed_at if approved else None,
                               site_zone=case.site_timezone)
        if row is not None:
            rows.append(row)
    return rows


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
    if case is None:
        return []
    regime = regimes.get(case.regime_key)
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
