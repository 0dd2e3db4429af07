"""Canonical serialisation and hashing of audit events (pure: no database, no Flask).

Each event's hash is SHA-256 over the RFC 8785 canonical JSON of its fields, including the previous
event's hash, so changing, removing, inserting or reordering any event breaks every later link.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import rfc8785

from edms.verifier import audit_log
from edms.verifier.constants import AUDIT_HASHED_FIELDS as HASHED_FIELDS
from edms.verifier.constants import GENESIS_HASH

__all__ = ["GENESIS_HASH", "HASHED_FIELDS", "canonical_bytes", "canonical_changes", "event_hash"]


def canonical_changes(changes: Mapping[str, Any] | None) -> str | None:
    """Field-by-field old/new values as canonical JSON text, stored exactly as hashed."""
    if not changes:
        return None
    return rfc8785.dumps(dict(changes)).decode("utf-8")


def canonical_bytes(fields: Mapping[str, str | int | None]) -> bytes:
    """RFC 8785 canonical JSON of one event's flat fields, exactly as the standalone verifier reads an event
    line (`edms.verifier.audit_log.canonical`: one definition for the database and for every package).

    All values are strings, integers or null (changes are already canonical text), and all keys are
    ASCII; for that domain `json.dumps` with sorted keys and no whitespace produces exactly the RFC 8785
    bytes (a test proves it against the rfc8785 library), at C speed for long chains.
    """
    return audit_log.canonical({name: fields[name] for name in HASHED_FIELDS})


def event_hash(fields: Mapping[str, str | int | None]) -> str:
    return audit_log.event_hash(canonical_bytes(fields))
