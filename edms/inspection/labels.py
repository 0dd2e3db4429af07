"""Every internal key a person could read, as its label in their language: audit actions, kinds of object,
field names, status values, roles, regimes, signing steps and meanings, choice values and user ids.

One `Labels` per reader (a page's language, a package's language). Keys stay keys in machine formats
(JSON, manifests, CSV columns); everything meant for people goes through here, so that no raw key such
as `in_review`, `signature.signed` or `car_expression` reaches a page, a report or a rendition.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.audit.labels import (
    ACTION_LABELS,
    CHANGE_LABELS,
    OBJECT_LABELS,
    SIGNATURE_KIND_LABELS,
    UNRECORDED_SIGNATURE,
    humanised,
)
from edms.cases.models import Case
from edms.cases.regimes import Regime
from edms.cases.statuses import CASE_STATUS_LABELS
from edms.documents import models as dm
from edms.documents.renditions.layout import display_field
from edms.documents.statuses import STATUS_LABELS
from edms.documents.types import DocumentType
from edms.documents.types.model import NAMED_SIGNERS, SIGNATURE_MEANINGS, FieldDef
from edms.users.models import User
from edms.users.roles import ROLE_LABELS
from edms.wording import translate

LANGUAGE_NAMES = {"en": "English", "ja": "日本語"}


@dataclass
class Labels:
    language: str
    types: Mapping[str, DocumentType] = field(default_factory=dict)
    regimes: Mapping[str, Regime] = field(default_factory=dict)
    # What an event's object id, a case id or a user id is called: ("document", "12") -> "OOS-2026-0001".
    names: dict[tuple[str, str], str] = field(default_factory=dict)

    def _(self, message: str, **params: object) -> str:
        return translate(message, self.language, **params)

    def action(self, action: str) -> str:
        if action == "signature (no audit event)":
            return self._(UNRECORDED_SIGNATURE)
        label = ACTION_LABELS.get(action)
        return self._(label) if label else humanised(action)

    def object_kind(self, kind: str | None) -> str:
        if not kind:
            return ""
        label = OBJECT_LABELS.get(kind)
        return self._(label) if label else humanised(kind)

    def object_named(self, kind: str | None, object_id: str | int | None) -> str:
        """"Record OOS-2026-0001", "Case CASE-2026-0001", "Account kenji.sato": never a bare row id."""
        if object_id is None or object_id == "":
            return self.object_kind(kind)
        name = self.names.get((kind or "", str(object_id)))
        return f"{self.object_kind(kind)} {name if name else '#' + str(object_id)}"

    def case(self, case_id: str | int | None) -> str:
        if case_id is None or case_id == "":
            return ""
        return self.names.get(("case", str(case_id)), f"#{case_id}")

    def person(self, user_id: int | str | None) -> str:
        if user_id is None or user_id == "":
            return ""
        return self.names.get(("user", str(user_id)), f"#{user_id}")

    def status(self, status: str | None, *, of_case: bool = False) -> str:
        if not status:
            return ""
        label = (CASE_STATUS_LABELS if of_case else STATUS_LABELS).get(status)
        return self._(label) if label else status

    def role(self, role: str) -> str:
        label = ROLE_LABELS.get(role)
        return self._(label) if label else role

    def regime(self, key: str) -> str:
        regime = self.regimes.get(key)
        return regime.name.text(self.language) if regime else key

    def type_name(self, type_key: str) -> str:
        doc_type = self.types.get(type_key)
        return doc_type.name.text(self.language) if doc_type else type_key

    def meaning(self, meaning: str) -> str:
        label = SIGNATURE_MEANINGS.get(meaning)
        return label.text(self.language) if label else meaning

    def step(self, step: str, type_key: str | None = None) -> str:
        for doc_type in self._types_for(type_key):
            for known in doc_type.steps:
                if known.name == step:
                    return known.label.text(self.language)
        return step

    def _types_for(self, type_key: str | None) -> Iterable[DocumentType]:
        if type_key and type_key in self.types:
            yield self.types[type_key]
        yield from self.types.values()

    def _field_def(self, key: str, type_key: str | None) -> FieldDef | None:
        for doc_type in self._types_for(type_key):
            for known in doc_type.fields:
                if known.name == key:
                    return known
        return None

    def field(self, key: str, type_key: str | None = None) -> str:
        """A changed field's name: the document type's label, else the name of an account's or a case's field."""
        if type_key is not None:
            definition = self._field_def(key, type_key)
            if definition is not None:
                return definition.label.text(self.language)
        label = CHANGE_LABELS.get(key)
        if label:
            return self._(label)
        definition = self._field_def(key, None)
        return definition.label.text(self.language) if definition else humanised(key)

    def value(self, key: str, value: object, type_key: str | None = None, *, of_case: bool = False) -> str:
        """A recorded value as a person reads it: labels for keys, names for ids, lists as lists."""
        if value is None or value == "" or value == []:
            return "—"
        if isinstance(value, bool):
            return self._("yes") if value else self._("no")
        if isinstance(value, dict):
            return "; ".join(f"{self.field(name, type_key)}: {self.value(name, item, type_key, of_case=of_case)}"
                             for name, item in value.items() if item not in (None, "", []))
        if key == "status":
            return self.status(str(value), of_case=of_case)
        if key in ("roles", "role"):
            items = value if isinstance(value, list) else [value]
            return ", ".join(self.role(str(item)) for item in items)
        if key == "regime":
            return self.regime(str(value))
        if key == "language":
            return LANGUAGE_NAMES.get(str(value), str(value))
        if key == "meaning":
            return self.meaning(str(value))
        if key == "step":
            return self.step(str(value), type_key)
        if key == "kind" and value in SIGNATURE_KIND_LABELS:
            return self._(SIGNATURE_KIND_LABELS[str(value)])
        if key == "signer" and value in NAMED_SIGNERS:
            return NAMED_SIGNERS[str(value)].text(self.language)
        if key in ("physician_id", "user_id", "actor_id"):
            return self.person(str(value))
        definition = self._field_def(key, type_key)
        if definition is not None and definition.type in ("choice", "multichoice", "boolean"):
            return display_field(definition, value, self.language, "UTC")
        if isinstance(value, list):
            return ", ".join(self.value(key, item, type_key, of_case=of_case) for item in value)
        return str(value) if not isinstance(value, (dict, list)) else json.dumps(value, ensure_ascii=False)


def object_names(session: Session, pairs: Iterable[tuple[str | None, object]]) -> dict[tuple[str, str], str]:
    """Names for (kind, id) pairs as people know them: record numbers, case references, user names."""
    wanted: dict[str, set[int]] = {}
    for kind, object_id in pairs:
        if kind in ("document", "case", "user") and object_id is not None and str(object_id).isdigit():
            wanted.setdefault(kind, set()).add(int(str(object_id)))
    names: dict[tuple[str, str], str] = {}
    if wanted.get("document"):
        for doc_id, number in session.execute(select(dm.Document.id, dm.Document.number)
                                              .where(dm.Document.id.in_(wanted["document"]))):
            names[("document", str(doc_id))] = number
    if wanted.get("case"):
        for case_id, reference in session.execute(select(Case.id, Case.reference).where(Case.id.in_(wanted["case"]))):
            names[("case", str(case_id))] = reference
    if wanted.get("user"):
        for user_id, username in session.execute(select(User.id, User.username).where(User.id.in_(wanted["user"]))):
            names[("user", str(user_id))] = username
    return names


def event_names(session: Session, events: Iterable) -> dict[tuple[str, str], str]:
    """The names an audit page needs for its events: their objects, cases, actors and recorded user ids."""
    pairs: list[tuple[str | None, object]] = []
    for event in events:
        pairs += [(event.object_type, event.object_id), ("case", event.case_id), ("user", event.actor_id)]
        if event.changes and "physician_id" in event.changes:
            try:
                change = json.loads(event.changes).get("physician_id") or {}
            except ValueError:
                continue
            if isinstance(change, dict):
                pairs += [("user", change.get("old")), ("user", change.get("new"))]
    return object_names(session, pairs)
