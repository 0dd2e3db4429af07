"""The stored state a record's page shows, read with ONE plain Core statement and summed up in one digest.

A document's page (its facts, content, attachments, signatures with their verdicts, version history) is a
function of the rows read here, of what verification trusts (anchors, revocation records) and of how the
reader sees it (language, zones, role). `RecordState.digest` covers every column of those rows, bytes
included (the signed manifest, CMS and time-stamp of each signature, the certificate of each credential), so
any change, through edms or behind its back (a tampered row), gives another digest: a page part rendered for
one digest is exactly what a fresh rendering of the same digest prints (edms.web.record_cache). It is read
from the database on each request, so it holds across threads, processes and nodes. The row sets come in one
round trip (edms.row_sets: a UNION ALL of tagged rows), with the revocation records verification judges by.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import BindParameter, Row, bindparam
from sqlalchemy.orm import Session

from edms.cases.models import Case
from edms.documents import models as dm
from edms.pki.store import TrustAnchors
from edms.row_sets import RowSet, tagged_union, zero
from edms.signatures.keys import REVOKED_COLUMNS, revocations_of
from edms.signatures.models import Signature, SigningCredential
from edms.signatures.verification import Trust
from edms.sites.models import Site
from edms.users.models import User

_documents, _versions, _attachments = dm.Document.__table__, dm.DocumentVersion.__table__, dm.Attachment.__table__
_signatures, _credentials = Signature.__table__, SigningCredential.__table__
_DOCUMENT_ID: BindParameter[int] = bindparam("document_id")
DOCUMENT, ATTACHMENTS, SIGNATURES, REVOKED = range(4)  # the row sets, in the order the statement returns them

# One statement built once, with the document's id a bound parameter: the engine caches its compiled form, so a
# request neither builds nor compiles it. The revocation records that verification judges the signatures by come
# in the same round trip (edms.web.signature_views.trust_judged_by).
_STATE, _PLACES, _BINARY_FROM = tagged_union({
    # The document, its owner's printed name, its case's reference and the zone of the case's site (the page
    # shows its times in it: edms.cases.zones.case_zone): one row per version.
    DOCUMENT: RowSet(
        (*_documents.c, User.__table__.c.printed_name.label("owner_printed_name"),
         Case.__table__.c.reference.label("case_reference"), Site.__table__.c.timezone.label("case_zone"),
         *(c.label(f"version_{c.name}") for c in _versions.c)),
        (_versions.c.version, zero()),
        lambda s: s.select_from(_documents).join(User.__table__, User.__table__.c.id == _documents.c.owner_id)
        .outerjoin(Case.__table__, Case.__table__.c.id == _documents.c.case_id)
        .outerjoin(Site.__table__, Site.__table__.c.id == Case.__table__.c.site_id)
        .join(_versions, _versions.c.document_id == _documents.c.id).where(_documents.c.id == _DOCUMENT_ID)),
    ATTACHMENTS: RowSet(
        tuple(_attachments.c), (_attachments.c.id, zero()),
        lambda s: s.join(_versions, _versions.c.id == _attachments.c.version_id)
        .where(_versions.c.document_id == _DOCUMENT_ID)),
    # Each signature with what verification reads of the credential it names (the signer and the certificate)
    # and what it judges revocation by.
    SIGNATURES: RowSet(
        (*_signatures.c, *(c.label(f"credential_{c.name}") for c in (
            _credentials.c.user_id, _credentials.c.serial_hex, _credentials.c.certificate, _credentials.c.revoked_at))),
        (_signatures.c.id, zero()),
        lambda s: s.join(_versions, _versions.c.id == _signatures.c.version_id)
        .outerjoin(_credentials, _credentials.c.id == _signatures.c.credential_id)
        .where(_versions.c.document_id == _DOCUMENT_ID)),
    REVOKED: RowSet(REVOKED_COLUMNS, (_credentials.c.id, zero()), lambda s: s.where(_credentials.c.revoked_at.is_not(None))),
})


@dataclass(frozen=True)
class VersionState:
    """What a page decides per request about one version, without loading the ORM objects."""

    id: int
    version: int
    status: str
    frozen_at: datetime | None

    @property
    def frozen(self) -> bool:
        return self.frozen_at is not None


@dataclass(frozen=True)
class RecordState:
    id: int
    number: str
    type_key: str
    status: str
    owner_id: int
    case_id: int | None
    case_zone: str | None  # the zone of the case's site (None: no case)
    versions: tuple[VersionState, ...]  # by version number
    revoked: tuple[tuple[int, datetime], ...]  # every revocation record, as edms.signatures.keys.revocations
    digest: bytes

    def version(self, number: int) -> VersionState | None:
        return next((v for v in self.versions if v.version == number), None)

    @property
    def latest(self) -> VersionState:
        return self.versions[-1]


def record_state(session: Session, document_id: int) -> RecordState | None:
    """The document's stored state (None: no such document), in one statement: every column of its row, its
    owner's printed name, its case's reference, its versions, their attachments, their signatures with the
    credential each names, and every revocation record."""
    rows = session.connection().execute(_STATE, {"document_id": document_id}).all()  # Core: no ORM execution
    if not rows or rows[0][0] != DOCUMENT:
        return None
    at = _PLACES[DOCUMENT]
    first = rows[0]
    versions = tuple(VersionState(row[at["version_id"]], row[at["version_version"]], row[at["version_status"]],
                                  row[at["version_frozen_at"]]) for row in rows if row[0] == DOCUMENT)
    revoked = _PLACES[REVOKED]
    return RecordState(
        id=first[at["id"]], number=first[at["number"]], type_key=first[at["type_key"]], status=first[at["status"]],
        owner_id=first[at["owner_id"]], case_id=first[at["case_id"]], case_zone=first[at["case_zone"]],
        versions=versions,
        revoked=tuple(revocations_of([(row[revoked["serial_hex"]], row[revoked["revoked_at"]])
                                      for row in rows if row[0] == REVOKED])),
        digest=digest_of(rows, _BINARY_FROM),
    )


def digest_of(rows: Sequence[Row[Any]], binary_from: int) -> bytes:
    """SHA-256 over the rows' values, in order: each row as the `repr` of its values' tuple (a literal that names each
    value's type and cannot run into the next: a string's quotes are escaped), its bytes slots (from `binary_from`:
    edms.row_sets) entering by their own SHA-256, so no two different row sets share a digest by accident of
    formatting. One text, hashed once."""
    lines = [repr((*row[:binary_from], *(None if value is None else _Hashed(value) for value in row[binary_from:])))
             for row in rows]
    return hashlib.sha256("\x1d".join(lines).encode("utf-8", "surrogatepass")).digest()


class _Hashed:
    """A bytes value in a row's digest: its length and SHA-256 (a repr no literal of another type can print)."""

    __slots__ = ("text",)

    def __init__(self, value: bytes | bytearray | memoryview) -> None:
        data = bytes(value)
        self.text = f"<{len(data)} bytes sha256 {hashlib.sha256(data).hexdigest()}>"

    def __repr__(self) -> str:
        return self.text


def trust_digest(trust: Trust | None) -> bytes:
    """What a verdict is judged against, as one digest: the anchors (root and TSA certificates), every
    revocation record and every CRL; None (no PKI: every signature "cannot be verified") has its own."""
    if trust is None:
        return b"no trust"
    digest = hashlib.sha256(b"trust")
    digest.update(_anchors_digest(trust.anchors))
    for serial, revoked_at in sorted(trust.revoked.items()):
        digest.update(f"{serial}:{revoked_at.isoformat()};".encode())
    for crl in trust.crls:
        digest.update(hashlib.sha256(crl.public_bytes(Encoding.DER)).digest())
    return digest.digest()


_anchors_seen: tuple[TrustAnchors, bytes] | None = None  # the anchors are read again only when their files change


def _anchors_digest(anchors: TrustAnchors) -> bytes:
    global _anchors_seen
    seen = _anchors_seen
    if seen is not None and seen[0] is anchors:
        return seen[1]
    digest = hashlib.sha256(b"anchors")
    for group in (anchors.roots, anchors.tsa_roots):
        digest.update(b"|")
        for cert in group:
            digest.update(cert.fingerprint(hashes.SHA256()))
    _anchors_seen = (anchors, digest.digest())
    return _anchors_seen[1]
