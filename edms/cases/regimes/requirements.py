"""What a case's regime requires of one record's fields, said before anyone signs it.

The gates (`gates`) read a record once it is approved; here the same `satisfied_when` tests are read
forwards: the form shows each requirement next to its field and fills in what the case already decides,
a value that cannot open the gate is warned about at entry, and a record that fails a requirement on what
it is (as opposed to an outcome, such as a refused consent) is refused at submission.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from edms.cases.regimes.gates import _prerequisite_closure, _value_label
from edms.cases.regimes.model import CaseRecord, FieldTest, Regime
from edms.definitions import LocalizedText
from edms.documents.types import FieldDef


@dataclass(frozen=True)
class FieldRequirement:
    """One test of the regime on one field of the record: the values that pass it (`needed`; for an
    `includes_all_of` test, the items the list must hold), shown as `text` next to the field."""

    regime: Regime
    test: FieldTest
    needed: tuple[object, ...]

    @property
    def field(self) -> FieldDef:
        return self.test.field

    @property
    def outcome(self) -> bool:
        return self.test.outcome

    @property
    def includes(self) -> bool:
        return self.test.includes_all_of is not None

    @property
    def prefill(self) -> object | None:
        """The value a new record starts with: what the case requires, never an outcome (a decision is the
        signer's to make) and never a choice between several values."""
        if self.outcome:
            return None
        if self.includes:
            return [str(item) for item in self.needed] if self.needed else None
        return self.needed[0] if len(self.needed) == 1 else None

    def _needed(self, language: str) -> str:
        if self.includes:
            return _value_label(self.field, list(self.needed), language)
        if language == "ja":
            return "又は".join(f"「{_value_label(self.field, value, 'ja')}」" for value in self.needed)
        return " or ".join(_value_label(self.field, value, "en") for value in self.needed)

    @property
    def text(self) -> LocalizedText:
        """The requirement, as shown next to the field."""
        name = self.regime.name
        if self.includes:
            assert self.test.includes_all_of is not None
            source = self.test.includes_all_of[1].label
            if not self.needed:
                return LocalizedText(
                    f"Required in this case ({name.en}): every {source.en.lower()} of the case must be listed.",
                    f"本案件（{name.ja}）の要件：本案件の{source.ja}をすべて含むこと。",
                )
            return LocalizedText(
                f"Required in this case ({name.en}): must include {self._needed('en')} ({source.en} of the case).",
                f"本案件（{name.ja}）の要件：「{self._needed('ja')}」を含むこと（本案件の{source.ja}）。",
            )
        if self.outcome:
            return LocalizedText(
                f"Only {self._needed('en')} lets the case go on ({name.en}); any other answer is kept as a "
                "true record, but it does not open the gate.",
                f"本案件（{name.ja}）の手続を進められるのは{self._needed('ja')}の場合のみです。"
                "それ以外の回答も記録として保存されますが、要件は満たしません。",
            )
        return LocalizedText(
            f"Required in this case ({name.en}): {self._needed('en')}.",
            f"本案件（{name.ja}）の要件：{self._needed('ja')}。",
        )

    def unmet(self, value: object) -> LocalizedText | None:
        """None when `value` passes; otherwise what is wrong, naming the field and the required value."""
        if self.includes:
            listed = {str(item) for item in value} if isinstance(value, (list, tuple)) else set()
            missing = [item for item in self.needed if str(item) not in listed]
            if not missing:
                return None
            label = self.field.label
            return LocalizedText(
                f"{label.en} does not include {_value_label(self.field, missing, 'en')}, which this case "
                f"needs: the record could never satisfy the case's gate.",
                f"{label.ja}に本案件で必要な「{_value_label(self.field, missing, 'ja')}」が含まれていません。"
                "この記録では本案件の要件を満たせません。",
            )
        if value in self.needed:
            return None
        label = self.field.label
        shown = LocalizedText(_value_label(self.field, value, "en"), _value_label(self.field, value, "ja"))
        if self.outcome:
            return LocalizedText(
                f"{label.en} is {shown.en}: the record will be kept, but it does not let the case go on "
                f"(needed: {self._needed('en')}).",
                f"{label.ja}が「{shown.ja}」です。記録は保存されますが、本案件の要件は満たしません"
                f"（必要：{self._needed('ja')}）。",
            )
        return LocalizedText(
            f"{label.en} is {shown.en}, but this case needs {self._needed('en')}: the record could never "
            "satisfy the case's gate.",
            f"{label.ja}が「{shown.ja}」ですが、本案件では{self._needed('ja')}が必要です。"
            "この記録では本案件の要件を満たせません。",
        )


def record_requirements(regime: Regime, type_key: str, records: Iterable[CaseRecord]) -> list[FieldRequirement]:
    """The regime's tests on a record of `type_key`, with what the case's other records make them need
    (drafts included: a list of waivable items must hold the test a draft OOS notification names)."""
    document = next((d for d in regime.documents if d.type_key == type_key), None)
    if document is None:
        return []
    case_records = list(records)
    requirements = []
    for test in document.satisfied_when:
        if test.includes_all_of is None:
            needed: tuple[object, ...] = test.equals
        else:
            ref_type, ref_field = test.includes_all_of
            items: dict[str, None] = {}
            for record in case_records:
                if record.type_key == ref_type:
                    value = record.values.get(ref_field.name)
                    for item in value if isinstance(value, (list, tuple)) else [value]:
                        if item is not None:
                            items[str(item)] = None
            needed = tuple(items)
        requirements.append(FieldRequirement(regime, test, needed))
    return requirements


def unmet(requirements: Iterable[FieldRequirement], values: Mapping[str, object], *,
          outcomes: bool = True) -> dict[str, LocalizedText]:
    """Per field name, why the values fail the regime (outcome tests only if `outcomes`)."""
    reasons: dict[str, LocalizedText] = {}
    for requirement in requirements:
        if requirement.outcome and not outcomes:
            continue
        reason = requirement.unmet(values.get(requirement.field.name))
        if reason is not None:
            name = requirement.field.name
            reasons[name] = LocalizedText.join([reasons[name], reason]) if name in reasons else reason
    return reasons


def accepted_references(regime: Regime, type_key: str) -> tuple[str, ...]:
    """Every record type the regime makes a prerequisite of `type_key` (directly or through another), in
    the regime's order: what its "records relied on" may name."""
    if not any(d.type_key == type_key for d in regime.documents):
        return ()
    closure = set(_prerequisite_closure(regime, type_key))
    return tuple(d.type_key for d in regime.documents if d.type_key in closure)
