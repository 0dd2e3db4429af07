"""The content hash of a version: SHA-256 over RFC 8785 canonical JSON of its fields and attachments."""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, TypedDict

import rfc8785


class AttachmentEntry(TypedDict):
    """What the hash covers of one attachment: its bytes (through their hash) and how it is named."""

    sha256: str
    name: str
    media_type: str
    size: int


def canonical_content(
    *, type_key: str, number: str, version: int, title: str, fields: Mapping[str, object],
    attachments: Iterable[AttachmentEntry],
) -> bytes:
    """The exact bytes a version's hash (and, through it, every signature) covers."""
    # Field values are JSON values (they come from the version's JSON content): Any is their type here.
    content: dict[str, Any] = {
        "type": type_key,
        "number": number,
        "version": version,
        "title": title,
        "fields": dict(fields),
        "attachments": sorted(
            ({"sha256": a["sha256"], "name": a["name"], "media_type": a["media_type"], "size": a["size"]}
             for a in attachments),
            key=lambda a: (a["sha256"], a["name"]),
        ),
    }
    return rfc8785.dumps(content)


def content_sha256(
    *, type_key: str, number: str, version: int, title: str, fields: Mapping[str, object],
    attachments: Iterable[AttachmentEntry],
) -> str:
    return hashlib.sha256(canonical_content(
        type_key=type_key, number=number, version=version, title=title, fields=fields, attachments=attachments,
    )).hexdigest()
