"""Reading documents: one by id, a version's values and the hash of its content, what changed between two
versions, and who may author a type."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Engine, Row, bindparam, select
from sqlalchemy.orm import Session, joinedload

from edms.documents import models as m
from edms.documents.hashing import canonical_content
from edms.documents.types import DocumentType
from edms.users.models import User
from edms.users.tokens import Caller, caller_with_rows, with_caller


def may_author(user: User, doc_type: DocumentType) -> bool:
    """Whoever holds a role that signs one of the type's steps may create documents of the type."""
    return user.active and user.has_role(*doc_type.signing_roles)


class Owned(Protocol):
    """A record as far as who may write it is concerned: a document, or a page's state of one."""

    @property
    def owner_id(self) -> int: ...


def may_write(user: User, doc_type: DocumentType, document: Owned) -> bool:
    """Only the document's owner edits its draft and revises it: holders of a signing role may refuse
    someone else's record, never rewrite it. (An administrator transfers ownership when the owner is gone.)"""
    return document.owner_id == user.id and may_author(user, doc_type)


def values_of(version: m.DocumentVersion) -> dict[str, object]:
    return json.loads(version.content)


@dataclass(frozen=True)
class FieldChange:
    name: str
    label: str
    old: object
    new: object


def diff_versions(doc_type: DocumentType, a: m.DocumentVersion, b: m.DocumentVersion, language: str = "en") -> list[FieldChange]:
    """Field-by-field differences between two versions, title and attachments included."""
    old, new = values_of(a), values_of(b)
    changes = []
    if a.title != b.title:
        changes.append(FieldChange("title", "Title" if language != "ja" else "表題", a.title, b.title))
    for field in doc_type.fields:
        if old.get(field.name) != new.get(field.name):
            changes.append(FieldChange(field.name, field.label.text(language), old.get(field.name), new.get(field.name)))
    old_files = sorted(f"{x.display_name} ({x.sha256[:12]}…)" for x in a.attachments)
    new_files = sorted(f"{x.display_name} ({x.sha256[:12]}…)" for x in b.attachments)
    if old_files != new_files:
        changes.append(FieldChange("attachments", "Attachments" if language != "ja" else "添付ファイル",
                                   ", ".join(old_files), ", ".join(new_files)))
    return changes


def get_document(session: Session, document_id: int) -> m.Document | None:
    return session.get(m.Document, document_id)


def document_summary(session: Session, document_id: int) -> m.Document | None:
    """The document and its versions in one query, their attachments left unloaded until asked for (a read
    of the document's summary, e.g. GET /api/v1/documents/{id})."""
    return session.scalars(
        select(m.Document).where(m.Document.id == document_id)
        .options(joinedload(m.Document.versions).lazyload(m.DocumentVersion.all_attachments))
    ).unique().first()


_documents, _versions = m.Document.__table__, m.DocumentVersion.__table__
# One Core statement, built once: the document's columns and, one row per version (earliest first), the
# columns of a version's summary, prefixed `v_` (an outer join: a document with no version gives one row).
_SUMMARY = (
    select(_documents.c.id, _documents.c.number, _documents.c.type_key, _documents.c.title, _documents.c.status,
           _documents.c.owner_id, _documents.c.case_id, _documents.c.created_at, _documents.c.current_version,
           *(_versions.c[name].label(f"v_{name}") for name in (
               "version", "status", "title", "reason", "content_sha256", "created_by", "created_at", "frozen_at",
               "status_changed_at")))
    .select_from(_documents.outerjoin(_versions, _versions.c.document_id == _documents.c.id))
    .where(_documents.c.id == bindparam("document_id"))
    .order_by(_versions.c.version)
)


# The same read beside the bearer token's caller, in one statement (GET /api/v1/documents/{id}: one round trip
# to the database for the token, its holder, their roles, the document and its versions).
_SUMMARY_WITH_CALLER = with_caller(_SUMMARY, "v_version")


def document_summary_with_caller(source: Session | Engine, token: str,
                                 document_id: int) -> tuple[Caller | None, Sequence[Any] | None]:
    """(the token's caller as `caller_for_token` reads it, the rows `document_summary_rows` reads) in one
    statement, in the session's unit of work or, given an engine, alone outside any transaction
    (`users.tokens.caller_with_rows`); (None, None) for a token that opens nothing, (caller, None) for no such
    document."""
    caller, rows = caller_with_rows(source, token, _SUMMARY_WITH_CALLER, {"document_id": document_id})
    if caller is None:
        return None, None
    return caller, (rows if rows and rows[0].id is not None else None)


def document_summary_rows(session: Session, document_id: int) -> Sequence[Row] | None:
    """What `document_summary` loads, as plain rows of one Core statement run on the session's connection
    (no ORM objects): the document's columns on every row, each row's `v_` columns one version, earliest
    first; None for no such document."""
    rows = session.connection().execute(_SUMMARY, {"document_id": document_id}).all()
    return rows or None


def version_content(document: m.Document, version: m.DocumentVersion) -> bytes:
    """Exactly the bytes the version's content hash (and through it every signature) covers."""
    return canonical_content(
        type_key=document.type_key, number=document.number, version=version.version, title=version.title,
        fields=values_of(version),
        attachments=[{"sha256": a.sha256, "name": a.display_name, "media_type": a.media_type, "size": a.size}
                     for a in version.attachments],
    )


def version_hash(document: m.Document, version: m.DocumentVersion) -> str:
    return hashlib.sha256(version_content(document, version)).hexdigest()
