"""The exact bytes a person signs: RFC 8785 canonical JSON (pure: no database, no Flask).

The manifest carries everything a signed record must show (21 CFR 11.50: printed name, date and time,
meaning) and everything that binds the signature to one version of one record (11.70: document id and
number, version, content SHA-256). It is stored byte for byte next to its detached CMS signature, so
`openssl cms -verify -binary -content manifest.json` checks the stored bytes themselves.
"""
from __future__ import annotations

import itertools
import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import rfc8785

from edms.documents.hashing import canonical_json
from edms.timeutil import isoformat_utc, require_aware
from edms.verifier.constants import SIGNATURE_MANIFEST_TYPE

MANIFEST_TYPE = SIGNATURE_MANIFEST_TYPE
MANIFEST_FORMAT = 1
# Format 2 adds `pdf_sha256`: the SHA-256 of the version's PDF as frozen at submission, whose PAdES
# signature the same ceremony makes; so the detached signature covers the frozen PDF too.
MANIFEST_FORMAT_PDF = 2
SIGNATURE = "signature"
REJECTION = "rejection"
KINDS = (SIGNATURE, REJECTION)
# Comments and reasons are part of the signed record; long enough for a reasoned refusal.
MAX_COMMENT = 2000

_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "type": str,
    "format": int,
    "signature_id": str,
    "kind": str,
    "document_id": int,
    "document_number": str,
    "version": int,
    "content_sha256": str,
    "step": str,
    "meaning": str,
    "signer_user_id": int,
    "signer_username": str,
    "signer_printed_name": str,
    "signer_role": str,
    "signed_at": str,
    "comment": (str, type(None)),
    "delegation": (dict, type(None)),  # null, or the delegation the signer acted under (DELEGATION_FIELDS)
}


def _field_checks(field_types: dict[str, type | tuple[type, ...]]) -> tuple[list[str], frozenset[str],
                                                                          frozenset[tuple[type, ...]]]:
    """A format's field names (in order and as a set) and every tuple of the exact types `json.loads` gives them
    that `_parse_manifest_reference`'s checks accept (for what `json.loads` makes, `isinstance(value, int) and not
    isinstance(value, bool)` is `type(value) is int`, and so on for each type)."""
    kinds = [kind if isinstance(kind, tuple) else (kind,) for kind in field_types.values()]
    return list(field_types), frozenset(field_types), frozenset(itertools.product(*kinds))


# By `document.get("format") == MANIFEST_FORMAT`, as the reference chooses: format 1's fields, or format 2's.
_FIELD_CHECKS = {True: _field_checks(_FIELD_TYPES), False: _field_checks({**_FIELD_TYPES, "pdf_sha256": str})}

# A signature made for an absent person names the delegation, so the manifestation shows it and it is
# bound to the signature like every other field.
DELEGATION_FIELDS: dict[str, type] = {
    "delegation_id": int,
    "role": str,
    "on_behalf_of_user_id": int,
    "on_behalf_of_username": str,
    "on_behalf_of_printed_name": str,
    "delegate_user_id": int,
    "valid_from": str,
    "valid_until": str,
}


class ManifestError(ValueError):
    """The bytes are not a manifest edms wrote (not canonical, fields missing, extra or of the wrong type)."""


@dataclass(frozen=True)
class Manifest:
    signature_id: str
    kind: str
    document_id: int
    document_number: str
    version: int
    content_sha256: str
    step: str
    meaning: str
    signer_user_id: int
    signer_username: str
    signer_printed_name: str
    signer_role: str
    signed_at: datetime
    comment: str | None = None
    delegation: dict[str, Any] | None = None
    pdf_sha256: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ManifestError(f"unknown kind {self.kind!r}")
        if self.delegation is not None:
            _check_delegation(self.delegation, self.signer_user_id)
        object.__setattr__(self, "signed_at", require_aware(self.signed_at))

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["signed_at"] = isoformat_utc(self.signed_at)
        if self.pdf_sha256 is None:
            del document["pdf_sha256"]
            return {"type": MANIFEST_TYPE, "format": MANIFEST_FORMAT, **document}
        return {"type": MANIFEST_TYPE, "format": MANIFEST_FORMAT_PDF, **document}

    def to_bytes(self) -> bytes:
        return rfc8785.dumps(self.to_json())


def _check_delegation(delegation: dict[str, Any], signer_user_id: int) -> None:
    if set(delegation) != set(DELEGATION_FIELDS):
        raise ManifestError("the manifest's delegation does not have the fields edms writes")
    for name, expected in DELEGATION_FIELDS.items():
        value = delegation[name]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ManifestError(f"the manifest's delegation field {name} has the wrong type")
    if delegation["delegate_user_id"] != signer_user_id:
        raise ManifestError("the manifest's delegation was not given to its signer")


def is_canonical(document: Any, data: bytes) -> bool:
    """Are `data` exactly the RFC 8785 canonical bytes of `document` (as `json.loads` read them)?"""
    try:
        return canonical_json(document) == data
    except rfc8785.CanonicalizationError:  # e.g. an integer beyond what JSON numbers hold exactly
        return False


# The form `isoformat_utc` writes, every field at full width: read by slicing. Anything else (strptime also
# takes, say, one-digit months or fewer fraction digits) is left to strptime, so what is accepted is the same.
_FULL_WIDTH = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")


def _signed_at(text: str) -> datetime:
    """`datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")` in UTC, without strptime for the form edms writes."""
    if _FULL_WIDTH.fullmatch(text):  # every field at full width: fromisoformat reads it as the fields say (in C)
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@lru_cache(maxsize=4096)
def parse_manifest(data: bytes) -> Manifest:
    """The manifest in `data`, which must be exactly the canonical bytes `Manifest.to_bytes` writes.

    A pure function of the bytes, so the manifests of a process's recent reads are kept, keyed by their
    exact bytes (a page shows each signature's manifest more than once); a damaged one raises every time.
    The Manifest is frozen: callers read it and never change it (its delegation included).

    `_parse_manifest_reference` with its field checks made at once (the names as a set, the types as one tuple);
    whatever they refuse is refused by the reference's own checks, in its order and with its messages
    (`tests/unit/signatures/test_manifest_parity.py`)."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ManifestError("the manifest is not UTF-8 JSON") from exc
    if type(document) is not dict:
        return _parse_manifest_reference(data)
    names, name_set, accepted = _FIELD_CHECKS[document.get("format") == MANIFEST_FORMAT]
    if document.keys() != name_set or tuple(map(type, map(document.__getitem__, names))) not in accepted:
        return _parse_manifest_reference(data)
    signed_at = _signing_time(document, data)
    del document["type"], document["format"]
    document["signed_at"] = signed_at
    return Manifest(**document)


def _signing_time(document: dict[str, Any], data: bytes) -> datetime:
    """The checks after the fields' names and types (both readings make them, in this order): the manifest's
    type and format, its canonical form, then its signing time, which is returned."""
    if document["type"] != MANIFEST_TYPE or document["format"] not in (MANIFEST_FORMAT, MANIFEST_FORMAT_PDF):
        raise ManifestError(f"unsupported manifest {document['type']} format {document['format']}")
    if not is_canonical(document, data):
        raise ManifestError("the manifest is not in canonical form (RFC 8785)")
    try:
        return _signed_at(document["signed_at"])
    except ValueError as exc:
        raise ManifestError("the manifest's signing time is not a UTC time in the form edms writes") from exc


def _parse_manifest_reference(data: bytes) -> Manifest:
    """The reference reading of a manifest: each check in turn, the first that fails saying why."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ManifestError("the manifest is not UTF-8 JSON") from exc
    if not isinstance(document, dict):
        raise ManifestError("the manifest is not a JSON object")
    field_types = _FIELD_TYPES if document.get("format") == MANIFEST_FORMAT else {**_FIELD_TYPES, "pdf_sha256": str}
    if set(document) != set(field_types):
        raise ManifestError("the manifest's fields are not those of an edms signature manifest")
    for name, expected in field_types.items():
        value = document[name]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ManifestError(f"the manifest field {name} has the wrong type")
    signed_at = _signing_time(document, data)
    fields = {name: document[name] for name in field_types if name not in ("type", "format")}
    return Manifest(**{**fields, "signed_at": signed_at})
