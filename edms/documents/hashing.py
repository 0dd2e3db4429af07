"""The content hash of a version: SHA-256 over RFC 8785 canonical JSON of its fields and attachments."""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

import rfc8785


def canonical_content(
    *, type_key: str, number: str, version: int, title: str, fields: Mapping[str, object],
    attachments: Iterable[Mapping[str, object]],
) -> bytes:
    """The exact bytes a version's hash (and, through it, every signature) covers."""
    return rfc8785.dumps(
        {
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
    )


def content_sha256(**kwargs) -> str:
    return hashlib.sha256(canonical_content(**kwargs)).hexdigest()
