"""What a document type is made of: fields with their choices, signature steps, and the controlled lists
(languages, signature meanings, signing roles, named signers) a definition may only choose from."""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from edms.definitions import LocalizedText
from edms.users.roles import AUTHOR, PHYSICIAN, QA, REGULATORY

LANGUAGES = ("en", "ja")


# 21 CFR 11.50(a)(3) / 11.70: the meaning is part of every signature manifestation, so it is a
# controlled list here rather than free text in the definitions.
SIGNATURE_MEANINGS: dict[str, LocalizedText] = {
    "authored": LocalizedText("Authored", "作成"),
    "reviewed": LocalizedText("Reviewed", "照査"),
    "approved": LocalizedText("Approved", "承認"),
    "responsibility": LocalizedText("Responsibility", "責任"),
    "verified": LocalizedText("Verified", "確認"),
    "witnessed": LocalizedText("Witnessed", "立会い"),
}

# The roles that may sign a step; administrators and inspectors never sign content.
SIGNING_ROLES: dict[str, LocalizedText] = {
    AUTHOR: LocalizedText("Author (manufacturing / QC)", "作成者（製造・品質管理）"),
    QA: LocalizedText("Quality assurance", "品質保証"),
    PHYSICIAN: LocalizedText("Treating physician", "担当医師"),
    REGULATORY: LocalizedText("Regulatory affairs", "薬事"),
}

FIELD_TYPES = (
    "text", "textarea", "number", "integer", "date", "datetime",
    "choice", "multichoice", "boolean", "document_refs",
)


@dataclass(frozen=True)
class Choice:
    value: str
    label: LocalizedText


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    label: LocalizedText
    required: bool = False
    help: LocalizedText | None = None
    max_length: int | None = None
    pattern: re.Pattern[str] | None = None
    example: str | None = None
    # Number and integer fields: digits written out in full, before and after the point.
    max_digits: int | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    unit: str | None = None
    choices: tuple[Choice, ...] = ()
    ref_types: tuple[str, ...] = ()
    # A reference field that, in a case, also accepts every record type the case's regime makes a
    # prerequisite of this record (a QA release relies on the ethics and regulatory records the regime needs).
    accepts_prerequisites: bool = False
    # A boolean whose "yes" means the record concerns a safety specification (e.g. sterility), which is
    # never waived under any regime.
    safety: bool = False
    # Resolved by the loader from ref_types (or all types): what a referenced document number looks like.
    ref_pattern: re.Pattern[str] | None = None
    # Resolved by the loader: the names of the ref_types, for messages (never the keys).
    ref_labels: tuple[LocalizedText, ...] = ()

    def choice_label(self, value: str, language: str) -> str:
        for choice in self.choices:
            if choice.value == value:
                return choice.label.text(language)
        return value


# People a step may name instead of "anyone holding the role": resolved from the record's case when signed.
CASE_PHYSICIAN = "case_physician"
NAMED_SIGNERS: dict[str, LocalizedText] = {
    CASE_PHYSICIAN: LocalizedText("The case's treating physician", "症例の担当医師"),
}


@dataclass(frozen=True)
class SignatureStep:
    """One signing step: who may sign (any one of `roles`, or the named person), what the signature
    means, how many distinct people sign it, and the steps it follows. Steps that follow the same
    steps are parallel: they may be signed in any order."""

    name: str
    roles: tuple[str, ...]
    meaning: str
    label: LocalizedText
    approvals: int = 1
    # False: a person who signed another step of the same record may not sign this one.
    allow_same_signer: bool = False
    # Steps that must be complete before this one may be signed; empty: open as soon as the version is.
    after: tuple[str, ...] = ()
    # A key of NAMED_SIGNERS: in a case, only that person (or someone they delegated to) signs.
    signer: str | None = None
