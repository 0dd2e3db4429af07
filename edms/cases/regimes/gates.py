"""The regime's gates: whether a record may be signed yet, whether the lot may be administered, and the
case's checklist of records (21 CFR 11.10(f)), each with the reasons and who must act next."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from edms.cases.regimes.model import (
    CaseRecord,
    FieldTest,
    Regime,
    RegimeDocument,
    is_safety_test,
)
from edms.definitions import LocalizedText
from edms.documents.types import SIGNING_ROLES, FieldDef


@dataclass(frozen=True)
class Blocker:
    """Why a step may not happen yet, and who must act next (signing roles; empty when nobody can)."""

    reason: LocalizedText
    roles: tuple[str, ...] = ()
    type_key: str | None = None


@dataclass(frozen=True)
class ChecklistItem:
    document: RegimeDocument
    applies: bool | None  # None: its condition is not answered yet, so it counts as needed
    satisfied: bool
    shortfalls: tuple[LocalizedText, ...]  # why the approved records do not meet the regime's tests
    blockers: tuple[Blocker, ...]  # why it may not be signed yet

    @property
    def next_roles(self) -> tuple[str, ...]:
        """Who must act next: on what blocks this record if anything does, else its first signer."""
        if self.satisfied or self.applies is False:
            return ()
        if self.blockers:
            return tuple(dict.fromkeys(role for blocker in self.blockers for role in blocker.roles))
        return self.document.roles[:1]



def _value_label(field: FieldDef, value: object, language: str) -> str:
    if value is None or value == []:
        return "未入力" if language == "ja" else "empty"
    if isinstance(value, bool):
        return ("はい" if value else "いいえ") if language == "ja" else ("yes" if value else "no")
    if isinstance(value, (list, tuple)):
        return ("、" if language == "ja" else ", ").join(field.choice_label(str(item), language) for item in value)
    return field.choice_label(str(value), language)


def _shortfall(document: RegimeDocument, test: FieldTest, values: Mapping[str, object],
               records: Iterable[CaseRecord]) -> LocalizedText | None:
    """None when the record passes the test, otherwise the reason it does not."""
    value = values.get(test.field.name)
    name, label = document.document_type.name, test.field.label
    if test.includes_all_of is None:
        if value in test.equals:
            return None
        needed_en = " or ".join(_value_label(test.field, allowed, "en") for allowed in test.equals)
        needed_ja = "又は".join(f"「{_value_label(test.field, allowed, 'ja')}」" for allowed in test.equals)
        return LocalizedText(
            f"{name.en}: {label.en} is {_value_label(test.field, value, 'en')} (needed: {needed_en}).",
            f"{name.ja}：{label.ja}が「{_value_label(test.field, value, 'ja')}」です（必要：{needed_ja}）。",
        )
    ref_type, ref_field = test.includes_all_of
    listed = set(value) if isinstance(value, (list, tuple)) else set()
    needed = {
        item
        for record in records
        if record.type_key == ref_type and record.approved
        for item in _as_list(record.values.get(ref_field.name))
    }
    missing = sorted(needed - listed)
    if not missing:
        return None
    return LocalizedText(
        f"{name.en}: {label.en} does not include {_value_label(ref_field, missing, 'en')} "
        f"({ref_field.label.en} of the case).",
        f"{name.ja}：{label.ja}に「{_value_label(ref_field, missing, 'ja')}」が含まれていません"
        f"（本ケースの{ref_field.label.ja}）。",
    )


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    return [str(item) for item in value] if isinstance(value, (list, tuple)) else [str(value)]


def _evaluate(document: RegimeDocument, records: list[CaseRecord]) -> tuple[bool, tuple[LocalizedText, ...]]:
    """(satisfied, shortfalls): satisfied when one approved record of the type passes every test."""
    shortfalls: list[LocalizedText] = []
    for record in records:
        if record.type_key != document.type_key or not record.approved:
            continue
        reasons = [reason for test in document.satisfied_when
                   if (reason := _shortfall(document, test, record.values, records)) is not None]
        if not reasons:
            return True, ()
        shortfalls.extend(reason for reason in reasons if reason not in shortfalls)
    return False, tuple(shortfalls)


def _role_names(roles: Iterable[str], language: str) -> str:
    return ("、" if language == "ja" else ", ").join(SIGNING_ROLES[role].text(language) for role in roles)


def _unmet_blocker(document: RegimeDocument, shortfalls: tuple[LocalizedText, ...]) -> Blocker:
    roles = document.roles
    if shortfalls:
        reason = LocalizedText(" ".join(item.en for item in shortfalls), "".join(item.ja for item in shortfalls))
        return Blocker(reason, roles[:1], document.type_key)
    name = document.document_type.name
    return Blocker(
        LocalizedText(
            f"{name.en} must be approved first (signed by: {_role_names(roles, 'en')}).",
            f"先に{name.ja}の承認が必要です（署名：{_role_names(roles, 'ja')}）。",
        ),
        roles[:1],
        document.type_key,
    )


def _prerequisite_closure(regime: Regime, type_key: str) -> list[str]:
    """Every record `type_key` waits for, nearest first: a prerequisite withdrawn after its dependants
    were approved still closes the gate."""
    order: list[str] = []
    queue = list(regime.document(type_key).prerequisites)
    while queue:
        key = queue.pop(0)
        if key not in order:
            order.append(key)
            queue.extend(regime.document(key).prerequisites)
    return order


def safety_blockers(regime: Regime, records: Iterable[CaseRecord]) -> list[Blocker]:
    """One blocker per record, draft or approved, that reports an OOS result on a safety test: by a
    choice of a safety test (sterility, endotoxin, mycoplasma) or by a `safety = true` field set to yes."""
    types = {document.type_key: document.document_type for document in regime.documents}
    blockers: list[Blocker] = []
    for record in records:
        doc_type = types.get(record.type_key)
        if doc_type is None:
            continue
        tests = [
            (field, value)
            for field in doc_type.fields
            if field.type in ("choice", "multichoice")
            for value in _as_list(record.values.get(field.name))
            if is_safety_test(value)
        ]
        flagged = [field for field in doc_type.fields if field.safety and record.values.get(field.name) is True]
        if tests:
            what = LocalizedText(
                ", ".join(field.choice_label(value, "en") for field, value in tests),
                "、".join(field.choice_label(value, "ja") for field, value in tests),
            )
        elif flagged:
            what = LocalizedText("marked as a safety test", "安全性に関する試験として記録")
        else:
            continue
        blockers.append(Blocker(
            LocalizedText(
                f"{doc_type.name.en} reports an OOS result on a safety test ({what.en}): safety specifications "
                "are never waived, so this lot cannot be released under any regime.",
                f"{doc_type.name.ja}の規格外結果は安全性に関する試験（{what.ja}）です。安全性に関する規格は"
                "免除されないため、いずれの制度でも本ロットは出荷できません。",
            ),
            (),
            record.type_key,
        ))
    return blockers


def signing_blockers(regime: Regime, type_key: str, *, records: Iterable[CaseRecord],
                     conditions: Mapping[str, bool | None]) -> list[Blocker]:
    """Why a record of `type_key` may not be signed yet in this case (21 CFR 11.10(f)); empty when it may.

    A prerequisite whose condition is not answered counts as needed: an open question never opens a gate.
    """
    case_records = list(records)
    blockers: list[Blocker] = []
    for key in _prerequisite_closure(regime, type_key):
        prerequisite = regime.document(key)
        applies = None if prerequisite.condition is None else prerequisite.condition.evaluate(conditions)
        if applies is False:
            continue
        satisfied, shortfalls = _evaluate(prerequisite, case_records)
        if satisfied:
            continue
        ref = prerequisite.condition
        if applies is None and ref is not None and ref.condition.asked_of is not None:
            condition, name, when = ref.condition, prerequisite.document_type.name, ref.text
            blockers.append(Blocker(
                LocalizedText(
                    f"Not answered yet: {condition.question.en} ({name.en} is needed: {when.en}.)",
                    f"未回答：{condition.question.ja}（{when.ja}は{name.ja}が必要です。）",
                ),
                (ref.condition.asked_of,),
                key,
            ))
            continue
        blockers.append(_unmet_blocker(prerequisite, shortfalls))
    if type_key == regime.release:
        blockers.extend(safety_blockers(regime, case_records))
    return blockers


def administration_blockers(regime: Regime, *, records: Iterable[CaseRecord],
                            conditions: Mapping[str, bool | None]) -> list[Blocker]:
    """Why the lot may not be administered: it is not released (with the regime's release decision), or
    the OOS is on a safety test. Time gates ("not before") are in deadlines.not_yet_permitted."""
    case_records = list(records)
    release = regime.document(regime.release)
    satisfied, shortfalls = _evaluate(release, case_records)
    blockers = [] if satisfied else [_unmet_blocker(release, shortfalls)]
    return blockers + safety_blockers(regime, case_records)


def checklist(regime: Regime, *, records: Iterable[CaseRecord],
              conditions: Mapping[str, bool | None]) -> list[ChecklistItem]:
    """The regime's records in order: whether each applies, is satisfied, and what stops it being signed."""
    case_records = list(records)
    items = []
    for document in regime.documents:
        satisfied, shortfalls = _evaluate(document, case_records)
        items.append(ChecklistItem(
            document=document,
            applies=True if document.condition is None else document.condition.evaluate(conditions),
            satisfied=satisfied,
            shortfalls=shortfalls,
            blockers=tuple(signing_blockers(regime, document.type_key, records=case_records, conditions=conditions)),
        ))
    return items
