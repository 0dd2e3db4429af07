"""A batch of stored signatures judged whole from plain rows, in a worker process or in this one: the
cryptography (`stamped_check`), then the link to the record (`verification.verify_signature`: identity,
version, recomputed content hash, the row's own columns), exactly as a page judges one signature.

The verification run's main process only reads: it sends each batch as plain tuples (signature rows and the
version, document, credential and attachment rows they point to, never ORM objects) and gets back the
problems found, one (signature id, message, params) per signature that fails. Each version's content hash
is recomputed once per batch, from its rows, by the same canonical form the application hashes.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from edms.documents.hashing import canonical_content
from edms.signatures import stamped_check
from edms.signatures.verdict import Trust, crypto_of, verify_signature
from edms.verifier import memo

if TYPE_CHECKING:
    from edms.pki.store import TrustAnchors

# The columns read for each table, in this order (the run's queries select exactly these).
SIGNATURE_COLUMNS = ("id", "signature_id", "kind", "document_id", "version_id", "version", "step", "meaning",
                     "signer_id", "credential_id", "signed_at", "comment", "manifest", "cms", "timestamp_response",
                     "timestamped_at")
VERSION_COLUMNS = ("id", "document_id", "version", "title", "content", "content_sha256")
DOCUMENT_COLUMNS = ("id", "number", "type_key")
CREDENTIAL_COLUMNS = ("id", "user_id", "certificate")
ATTACHMENT_COLUMNS = ("version_id", "sha256", "display_name", "media_type", "size")  # those not removed, by id


@dataclass(frozen=True, slots=True)
class SignatureRow:
    id: int
    signature_id: str
    kind: str
    document_id: int
    version_id: int
    version: int
    step: str
    meaning: str
    signer_id: int
    credential_id: int
    signed_at: datetime
    comment: str | None
    manifest: bytes
    cms: bytes
    timestamp_response: bytes
    timestamped_at: datetime


@dataclass(frozen=True, slots=True)
class VersionRow:
    id: int
    document_id: int
    version: int
    title: str
    content: str
    content_sha256: str | None


@dataclass(frozen=True, slots=True)
class DocumentRow:
    id: int
    number: str
    type_key: str


@dataclass(frozen=True, slots=True)
class CredentialRow:
    id: int
    user_id: int
    certificate: bytes


@dataclass(frozen=True)
class Batch:
    """One batch as read by the run: tuples in the column orders above, the linked rows keyed by id."""

    signatures: list[tuple[Any, ...]]
    versions: dict[int, tuple[Any, ...]]
    documents: dict[int, tuple[Any, ...]]
    credentials: dict[int, tuple[Any, ...]]
    attachments: dict[int, list[tuple[Any, ...]]]  # version id -> (sha256, name, media type, size) ...


Problem = tuple[str, str, dict[str, Any]]  # signature id, message (msgid), params


@dataclass(frozen=True)
class WorkerAnchors:
    """`edms.pki.TrustAnchors` as a worker rebuilds it (the same fields; the PKI store, with the TSA and key
    handling it imports, is not needed to judge and is not imported by a worker)."""

    roots: tuple[x509.Certificate, ...]
    system_cert: x509.Certificate
    tsa_roots: tuple[x509.Certificate, ...]


@dataclass(frozen=True)
class TrustState:
    """The run's trust state as bytes and plain values, to hand to a worker."""

    anchors: stamped_check.TrustBytes
    system: bytes
    revoked: tuple[tuple[int, datetime], ...]

    @classmethod
    def of(cls, trust: Trust) -> TrustState:
        return cls(stamped_check.TrustBytes.of(trust.anchors.roots, trust.anchors.tsa_roots, trust.crls),
                   trust.anchors.system_cert.public_bytes(Encoding.DER), tuple(trust.revoked.items()))

    def load(self) -> Trust:
        roots, tsa_roots, crls = self.anchors.load()
        anchors = WorkerAnchors(tuple(roots), x509.load_der_x509_certificate(self.system), tuple(tsa_roots))
        # The judgement reads only these three fields of `Trust.anchors`, which TrustAnchors and this copy share.
        return Trust(cast("TrustAnchors", anchors), dict(self.revoked), tuple(crls))


def content_hash(document: DocumentRow, version: VersionRow, attachments: Sequence[tuple[Any, ...]]) -> str:
    """`documents.queries.version_hash` from the rows (same canonical bytes)."""
    return hashlib.sha256(canonical_content(
        type_key=document.type_key, number=document.number, version=version.version, title=version.title,
        fields=json.loads(version.content),
        attachments=[{"sha256": sha256, "name": name, "media_type": media_type, "size": size}
                     for sha256, name, media_type, size in attachments])).hexdigest()


def judge(batch: Batch, trust: Trust) -> list[Problem]:
    """The problems of a batch, in the order of its signatures (inside a `memo.shared_run()`)."""
    roots, tsa_roots, crls = trust.anchors.roots, trust.anchors.tsa_roots, trust.crls
    versions: dict[int, VersionRow] = {}
    documents: dict[int, DocumentRow] = {}
    hashes: dict[int, str] = {}
    problems: list[Problem] = []
    for values in batch.signatures:
        signature = SignatureRow(*values)
        version = _row(versions, VersionRow, batch.versions, signature.version_id)
        document = None if version is None else _row(documents, DocumentRow, batch.documents, version.document_id)
        content_sha256 = None
        if version is not None and document is not None:
            content_sha256 = hashes.get(version.id)
            if content_sha256 is None:
                content_sha256 = hashes[version.id] = content_hash(document, version,
                                                                   batch.attachments.get(version.id, ()))
        credential_values = batch.credentials.get(signature.credential_id)
        crypto = crypto_of(stamped_check.check(signature.cms, signature.timestamp_response, signature.manifest,
                                               roots, tsa_roots, crls))
        verdict = verify_signature(signature, document=document, version=version,
                                   credential=None if credential_values is None else CredentialRow(*credential_values),
                                   trust=trust, crypto=crypto, content_sha256=content_sha256)
        if not verdict.ok:
            problems.append((signature.signature_id, verdict.message, dict(verdict.params)))
    return problems


def _row(made: dict[int, Any], kind: Any, values: Mapping[int, tuple[Any, ...]], key: int) -> Any:
    row = made.get(key)
    if row is None and key in values:
        row = made[key] = kind(*values[key])
    return row


# --- in a worker process --------------------------------------------------------------------------------

_worker_trust: Trust | None = None
_worker_run: AbstractContextManager[memo.Memo] | None = None


def start_worker(state: TrustState) -> None:
    """Pool initializer: the run's trust state, and a memo for the worker's life (this one run)."""
    global _worker_trust, _worker_run
    _worker_trust = state.load()
    _worker_run = memo.shared_run()
    _worker_run.__enter__()  # left open: the worker ends with the run


def ready() -> None:
    """A task that only makes the pool start a worker (its initializer has run when this returns)."""


def judge_in_worker(batch: Batch) -> list[Problem]:
    assert _worker_trust is not None, "start_worker first"
    return judge(batch, _worker_trust)
