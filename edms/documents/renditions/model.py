"""What a rendition is made from: one version of a record as stored, with its attachments, signature
manifestations (already verified) and version history, in the reader's language and time zone."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from edms.documents.types import LANGUAGES, DocumentType
from edms.timeutil import require_aware


@dataclass(frozen=True)
class RenditionAttachment:
    name: str
    media_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class RenditionSignature:
    printed_name: str
    role: str
    meaning: str
    signed_at: datetime
    display_tz: str
    signature_id: str
    status: str  # "valid" or "INVALID: <reason>", from signature verification
    step: str = ""  # the step's name in the document type; printed with its label
    kind: str = "signature"  # or "rejection": a signed refusal, whose comment is the reason
    comment: str = ""
    on_behalf_of: str = ""  # the absent person and the delegation signed under, already worded

    def __post_init__(self) -> None:
        require_aware(self.signed_at)


@dataclass(frozen=True)
class RenditionVersion:
    version: int
    status: str
    created_at: datetime
    reason: str

    def __post_init__(self) -> None:
        require_aware(self.created_at)


@dataclass(frozen=True)
class Rendition:
    doc_type: DocumentType
    number: str
    title: str
    version: int
    status: str
    content_sha256: str
    values: Mapping[str, object]
    generated_at: datetime
    attachments: Sequence[RenditionAttachment] = ()
    signatures: Sequence[RenditionSignature] = ()
    versions: Sequence[RenditionVersion] = ()
    language: str = "en"
    display_tz: str = "UTC"  # for date-time fields and the generation time

    def __post_init__(self) -> None:
        require_aware(self.generated_at)
        if self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}, not {self.language!r}")
