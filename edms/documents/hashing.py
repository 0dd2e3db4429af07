"""The content hash of a version: SHA-256 over RFC 8785 canonical JSON of its fields and attachments."""
from __future__ import annotations

import hashlib
import json
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
    return canonical_json(content)


# RFC 8785 writes what this writes for the JSON values edms hashes and signs (objects with ASCII keys, strings,
# integers within ±(2**53 - 1), booleans, null): keys sorted, no spaces, the same string escapes. In C, unlike
# the rfc8785 package; anything else (floats, other keys, a lone surrogate) is left to rfc8785 itself.
_encode_sorted = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode
_SAFE_INTEGER = 2**53 - 1
_STR_ONLY = frozenset((str,))


def plain_json(value: Any) -> bool:
    """Is `value` made only of what `canonical_json` writes in C (exact JSON types, as `json.loads` makes)?
    (The scalars an object or array holds are answered in its loop, without a call each.)"""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return -_SAFE_INTEGER <= value <= _SAFE_INTEGER
    if kind is dict:
        # Every key a str (exactly) and ASCII, checked in C: a version's content has dozens of keys.
        if not _STR_ONLY.issuperset(map(type, value)) or not "".join(value).isascii():
            return False
        items = value.values()
    elif kind is list:
        items = value
    else:
        return False
    for item in items:
        item_kind = type(item)
        if item_kind is str or item_kind is bool or item is None:
            continue
        if item_kind is int:
            if not -_SAFE_INTEGER <= item <= _SAFE_INTEGER:
                return False
        elif not plain_json(item):
            return False
    return True


def canonical_json(document: Any) -> bytes:
    """`rfc8785.dumps(document)`, the same bytes (and the same `CanonicalizationError`), in C where it can."""
    if plain_json(document):
        try:
            return _encode_sorted(document).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate, written by RFC 8785 as an escape
            pass
    return rfc8785.dumps(document)


def content_sha256(
    *, type_key: str, number: str, version: int, title: str, fields: Mapping[str, object],
    attachments: Iterable[AttachmentEntry],
) -> str:
    return hashlib.sha256(canonical_content(
        type_key=type_key, number=number, version=version, title=title, fields=fields, attachments=attachments,
    )).hexdigest()
