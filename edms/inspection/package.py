"""The inspection package: a ZIP that lets an inspector take a record away and prove it offline.

21 CFR 11.10(b) (accurate and complete copies, human-readable and electronic), ER/ES preservation, EU
Annex 11 §17 (archives verifiable after system changes). A package holds, for a document or every document
of a case:

    manifest.json                    every file below with its SHA-256 and size, and what the files are
    manifest.json.p7s                detached CMS over manifest.json by the system key
    manifest.json.sigvalue.bin       that signature's value, which manifest.json.tsr time-stamps (RFC 3161)
    manifest.json.tsr
    VERIFY.md                        how to check every signature and time-stamp with openssl alone
    report.html, report.pdf          the human-readable history and verification report
    edms_verify.pyz                  the offline verifier (`python3 edms_verify.pyz PACKAGE.zip`)
    pki/                             root CA, signing CA, TSA and system certificates, the signing CA's CRL,
                                     previous-root-<n>.pem, previous-signing-ca-<n>.pem: replaced by a
                                     rollover (and roots.pem, signing-cas.pem: bundles for openssl)
    documents/<number>/v<n>/         content.json (the exact bytes of the content hash), rendition.pdf,
                                     rendition.docx, attachments/, and per signature signatures/<id>/:
                                     manifest.json, signature.p7s, timestamp.tsr, sigvalue.bin, signer.pem,
                                     evidence.ers (its RFC 4998 archive time-stamps, once it has them)
    audit/events.jsonl               one line per audit event, exactly the canonical bytes its hash covers
    audit/checkpoints/<n>/           payload.json, signature.p7s, timestamp.tst (token), sigvalue.bin

The audit events are every event about the exported records plus, for each, the contiguous stretch of
the chain from it up to the first signed checkpoint at or after it, so that every hash and link
recomputes up to a head hash the system signed. Exporting is itself audited (`inspection.exported`), and
a new checkpoint signs the chain up to that event, so the package proves its own export too.
"""
from __future__ import annotations

import bisect
import concurrent.futures
import contextlib
import gc
import hashlib
import logging
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from cryptography import x509
from sqlalchemy import ColumnElement, Engine, or_, select
from sqlalchemy.orm import Session, sessionmaker

from edms import __version__
from edms.audit import AuditContext, record
from edms.audit.checkpoints import CheckpointError, create_checkpoint_now
from edms.audit.integrity import read_snapshot
from edms.audit.models import AuditCheckpoint, AuditEvent
from edms.cases import models as cm
from edms.cases.regimes import Regime, load_regimes
from edms.cases.retention import RecordRetention, record_retention
from edms.config import Settings
from edms.crypto.pki import build_crl
from edms.db import transaction
from edms.documents import models as dm
from edms.documents.blobstore import BlobStore
from edms.documents.pdf_models import SignedPdfRevision
from edms.documents.presentation import build_rendition
from edms.documents.queries import version_content
from edms.documents.types import DocumentType
from edms.errors import N_, UserError
from edms.inspection import report
from edms.inspection.labels import Labels, object_names
from edms.inspection.manifest import FORMAT, PackageWriter
from edms.inspection.package_files import package_files, trailer_files
from edms.inspection.package_rows import StoredRows
from edms.inspection.renderer import DocxSource, Renderer, StoredDocx, frozen_pdfs, record_texts, store_new_docx
from edms.inspection.timeline import Timeline, case_documents, document_timeline
from edms.inspection.tree_proofs import tree_proofs
from edms.pki.store import (
    ROOT,
    SIGNING_CA,
    SYSTEM,
    TSA,
    PkiStore,
    SystemSigner,
    system_signer,
)
from edms.signatures import presentation
from edms.signatures.keys import (
    CRL_VALIDITY,
    SigningAuthority,
    revocations,
    signing_authority,
)
from edms.signatures.models import Signature
from edms.timeutil import format_in_zone, utc_now

log = logging.getLogger("edms")

EXPORTED_ACTION = "inspection.exported"
DOCUMENT, CASE = "document", "case"
# A record changed between the export's checkpoint and the snapshot: checkpoint again, this many times at most.
MAX_ATTEMPTS = 3
PKI_FILES = {"root": ("pki/root-ca.pem", ROOT), "signing_ca": ("pki/signing-ca.pem", SIGNING_CA),
             "tsa": ("pki/tsa.pem", TSA), "system": ("pki/system.pem", SYSTEM)}
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')
# The phases `export_package` reports to its `progress(done, total, phase)`.
READING, WRITING, SEALING = "reading", "writing", "sealing"
ExportProgress = Callable[[int, int, str], object]


def no_progress(done: int, total: int, phase: str) -> None:
    """The default: nobody follows the export."""


class ExportError(UserError):
    """The package could not be made (no checkpoint or time-stamp could be obtained, records kept changing)."""


class NothingToExport(ExportError):
    """No such document, or no document in the case."""

    @classmethod
    def of(cls, scope: Scope) -> NothingToExport:
        """Worded per kind, so that the reader's language says "case" or "document" too (not the scope's id)."""
        if scope.kind == CASE:
            return cls(N_("There is no case %(id)s to export."), id=scope.id)
        return cls(N_("There is no document %(id)s to export."), id=scope.id)


@dataclass(frozen=True)
class Scope:
    kind: str  # DOCUMENT or CASE
    id: int

    def __post_init__(self) -> None:
        if self.kind not in (DOCUMENT, CASE):
            raise ValueError(f"an export is of a document or a case, not {self.kind!r}")

    def describe(self) -> str:
        return f"{self.kind} {self.id}"


@dataclass(frozen=True)
class ExportEnvironment:
    """What an export needs besides the database: the settings (PKI), document types and stored files.
    The keys are opened only when called."""

    settings: Settings
    document_types: Mapping[str, DocumentType]
    blobs: BlobStore
    signer: Callable[[], SystemSigner]
    authority: Callable[[], SigningAuthority]
    # The case regimes, for each case record's retention end (manifest and report).
    regimes: Mapping[str, Regime]


@dataclass(frozen=True)
class SignedItem:
    row: Signature
    shown: presentation.Manifestation
    directory: str
    evidence: bytes | None = None  # the RFC 4998 Evidence Record of its archive time-stamps, once it has one


@dataclass(frozen=True)
class VersionItem:
    row: dm.DocumentVersion
    content_path: str
    content_sha256: str  # of content.json as written
    renditions: dict[str, str]  # format -> path
    attachments: list[tuple[dm.Attachment, str]]
    signatures: list[SignedItem]
    # The signed PDF (PAdES) and every revision it had, as of the export: path, revisions.
    signed_pdf: tuple[str, list[SignedPdfRevision]] | None = None


@dataclass(frozen=True)
class DocumentItem:
    row: dm.Document
    doc_type: DocumentType
    directory: str
    versions: list[VersionItem]
    timeline: Timeline
    retention: RecordRetention | None = None  # a case record's, from its case's regime


@dataclass(frozen=True)
class CheckpointItem:
    row: AuditCheckpoint
    directory: str


@dataclass
class PackageContent:
    """Everything in a package, as the report and VERIFY.md describe it."""

    created_at: datetime
    created_by: AuditContext
    scope: Scope
    organisation: str
    language: str
    display_tz: str
    export_seq: int
    crl: x509.CertificateRevocationList
    documents: list[DocumentItem] = field(default_factory=list)
    events: list[AuditEvent] = field(default_factory=list)
    relevant: list[int] = field(default_factory=list)
    segments: list[tuple[int, int]] = field(default_factory=list)
    checkpoints: list[CheckpointItem] = field(default_factory=list)
    certificates: dict[str, tuple[str, x509.Certificate]] = field(default_factory=dict)  # role -> (path, cert)
    renderer: Renderer | None = None  # set once the snapshot is read
    renditions: list[concurrent.futures.Future] = field(default_factory=list)  # (pdf, docx) per version, in order
    docx: list[DocxSource] = field(default_factory=list)  # where each version's DOCX comes from, in order
    tree: dict | None = None  # the Merkle proofs of the events (edms.inspection.tree_proofs), when witnessed
    app_version: str = __version__
    labels: Labels | None = None  # keys as people read them, in the package's language (cases by reference)
    local_times: dict[datetime, str] = field(default_factory=dict)  # `local`'s, by moment

    def local(self, moment: datetime) -> str:
        """`moment` in the package's display zone, as the reports print it: formatted once per package (report.html
        and report.pdf print the same ~700 moments, issue 15)."""
        text = self.local_times.get(moment)
        if text is None:
            text = self.local_times[moment] = format_in_zone(moment, self.display_tz)
        return text

    @property
    def signatures(self) -> list[SignedItem]:
        return [signed for document in self.documents for version in document.versions for signed in version.signatures]


@dataclass(frozen=True)
class Exported:
    filename: str
    sha256: str
    size: int
    documents: int
    versions: int
    signatures: int
    files: int
    export_seq: int
    checkpoints: tuple[int, ...]


def package_filename(scope: Scope, numbers: Sequence[str], created_at: datetime) -> str:
    stamp = created_at.strftime("%Y%m%dT%H%M%SZ")
    what = f"case-{scope.id}" if scope.kind == CASE else _safe(numbers[0])
    return f"edms-inspection-{what}-{stamp}.zip"


def scope_documents(session: Session, scope: Scope) -> list[dm.Document]:
    if scope.kind == CASE:
        return case_documents(session, scope.id)
    document = session.get(dm.Document, scope.id)
    return [document] if document is not None else []


def export_package(engine: Engine, factory: sessionmaker[Session], ctx: AuditContext, env: ExportEnvironment,
                   scope: Scope, out: BinaryIO, *, language: str = "en", display_tz: str = "UTC",
                   progress: ExportProgress = no_progress) -> Exported:
    """Record the export, make sure a signed checkpoint covers it, then write the package to `out`.

    `progress(done, total, phase)` is told how far it is: (0, 0, READING) while the records are read and
    rendered, then (done, total, WRITING) once the total is known and after each document version and each
    further file is written, then (total, total, SEALING) before the manifest is signed and time-stamped.

    Reads one consistent snapshot of the database, so no lock is held while renditions are made. With
    SQLite the caller must not hold a transaction open on `engine` (the export writes its event first).
    """
    with transaction(factory) as session:
        documents = scope_documents(session, scope)
        if not documents:
            raise NothingToExport.of(scope)
        numbers = [document.number for document in documents]
        case_id = scope.id if scope.kind == CASE else documents[0].case_id
        export_seq = record(session, ctx, EXPORTED_ACTION, scope.kind, scope.id, case_id=case_id, changes={
            "package": {"old": None, "new": {"format": FORMAT, "documents": numbers, "language": language}},
        }).seq
    with tempfile.TemporaryDirectory(prefix="edms-export-") as scratch, _collector_paused():
        progress(0, 0, READING)
        for _attempt in range(MAX_ATTEMPTS):
            try:
                create_checkpoint_now(factory, ctx, env.signer())
            except CheckpointError as exc:
                raise ExportError(exc.message, **exc.params) from exc
            content = _read(engine, env, scope, ctx, export_seq, language, display_tz, Path(scratch))
            if content is not None:
                break
        else:
            raise ExportError(N_("The records kept changing while they were exported: try again."))
        writer = PackageWriter(out, content.created_at)
        made: list[tuple[DocxSource, bytes]] = []
        trailer = trailer_files(content)
        total = sum(len(document.versions) for document in content.documents) + len(trailer)
        done = 0

        def tick() -> None:
            nonlocal done
            done += 1
            progress(done, total, WRITING)

        progress(0, total, WRITING)
        try:
            for path, data, sha256 in package_files(content, env, trailer, made, tick):
                writer.add(path, data, sha256)
        except BaseException:
            writer.discard()
            raise
        finally:
            if content.renderer is not None:
                content.renderer.close()
    progress(total, total, SEALING)
    try:
        manifest_digest = writer.seal(content, env.signer())
    except BaseException:
        writer.discard()
        raise
    store_new_docx(factory, ctx, env.blobs, language, display_tz, made)
    log.info("inspection package of %s: %d files, manifest SHA-256 %s", scope.describe(), len(writer.files),
             manifest_digest)
    return Exported(
        filename=package_filename(scope, numbers, content.created_at), sha256=writer.sha256,
        size=writer.size, documents=len(content.documents),
        versions=sum(len(document.versions) for document in content.documents),
        signatures=len(content.signatures), files=len(writer.files), export_seq=export_seq,
        checkpoints=tuple(item.row.number for item in content.checkpoints),
    )


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while the package is read and written. The tens of thousands of
    objects an export holds for a moment (rows, the report's font tables) made it run a full collection of the
    whole process's heap during every export (~0.1 s of 0.5 s, issue 15); they are freed by reference
    counting when the export ends, and any cycle waits for the next collection. A caller that turned it off
    finds it off afterwards; of exports running side by side, the first to end turns it back on."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# --- reading the snapshot -----------------------------------------------------------------------------


def _read(engine: Engine, env: ExportEnvironment, scope: Scope, ctx: AuditContext, export_seq: int, language: str,
          display_tz: str, scratch: Path) -> PackageContent | None:
    """Everything the package holds, from one snapshot; None if a relevant event is newer than every checkpoint."""
    with read_snapshot(engine) as connection, Session(bind=connection) as session:
        documents = scope_documents(session, scope)
        stored = StoredRows(session, documents)
        relevant = _relevant_seqs(session, scope, documents)
        checkpoints = list(session.scalars(select(AuditCheckpoint).where(AuditCheckpoint.seq >= relevant[0])
                                           .order_by(AuditCheckpoint.seq, AuditCheckpoint.number)))
        if not checkpoints or checkpoints[-1].seq < relevant[-1]:
            return None
        segments, needed = _segments(relevant, checkpoints)
        trust = presentation.current_trust(session, env.settings)
        authority = env.authority()
        now = utc_now()
        content = PackageContent(
            created_at=now, created_by=ctx, scope=scope, organisation=authority.organisation, language=language,
            display_tz=display_tz, export_seq=export_seq, relevant=relevant, segments=segments,
            checkpoints=[CheckpointItem(row, f"audit/checkpoints/{row.number:06d}") for row in needed],
            events=[event for start, end in segments for event in session.scalars(
                select(AuditEvent).where(AuditEvent.seq >= start, AuditEvent.seq <= end).order_by(AuditEvent.seq))],
            certificates=_certificates(env.settings),
            # Issued now, after every signature in the snapshot: it shows each was unrevoked when stamped.
            crl=build_crl(authority.ca_cert, authority.ca_key, revocations(session), now, now + CRL_VALIDITY),
        )
        content.labels = Labels(language, env.document_types, env.regimes, object_names(session, [
            ("case", scope.id if scope.kind == CASE else None), *(("case", d.case_id) for d in documents),
            *(("user", event.actor_id) for event in content.events)]))
        content.tree = tree_proofs(session, env.settings.witness_path, [event.seq for event in content.events])
        frozen = frozen_pdfs(session, documents, language, display_tz)
        stored_docx = StoredDocx(session, documents, language, display_tz)
        count = sum(len(document.versions) for document in documents)
        content.renderer = Renderer(scratch, count, pdfs=count - len(frozen))
        try:
            content.renderer.prepare(record_texts(session, documents, env.document_types))
            for document in documents:
                doc_type = env.document_types[document.type_key]
                timeline = document_timeline(session, document, trust, env.document_types)
                shown = {item.signature_id: item for item in timeline.signatures}
                directory = f"documents/{_safe(document.number)}"
                versions = []
                for version in document.versions:
                    item = _version_item(session, document, version, directory, shown, trust, env, stored)
                    if version.id in frozen and item.signed_pdf is not None:
                        item.renditions["pdf"] = item.signed_pdf[0]  # the PDF frozen and signed: not made again
                    # The signatures as the history verified them just now (the same rows, trust and content
                    # hash as `presentation.rendition_signatures` would verify again).
                    rendition = build_rendition(
                        session, doc_type, document, version, language=language, display_tz=display_tz,
                        signatures=presentation.as_rendition_signatures(
                            [signed.shown for signed in item.signatures], display_tz))
                    content.docx.append(stored_docx.source(document, version, rendition))
                    content.renditions.append(content.renderer.submit(
                        rendition, pdf=version.id not in frozen, docx=content.docx[-1].stored is None))
                    versions.append(item)
                content.documents.append(DocumentItem(document, doc_type, directory, versions, timeline,
                                                      _retention(session, document, env.regimes)))
        except BaseException:
            content.renderer.close()
            raise
        return content


def _retention(session: Session, document: dm.Document, regimes: Mapping[str, Regime]) -> RecordRetention | None:
    case = session.get(cm.Case, document.case_id) if document.case_id is not None else None
    if case is None:
        return None
    regime = regimes.get(case.regime_key)
    if regime is None:
        return None
    approved = [v for v in document.versions if v.status == dm.APPROVED]
    return record_retention(regime, number=document.number, type_key=document.type_key,
                            case_dates=case.current_dates(),
                            approved_at=approved[-1].status_changed_at if approved else None,
                            site_zone=case.site_timezone)


def _relevant_seqs(session: Session, scope: Scope, documents: Sequence[dm.Document]) -> list[int]:
    ids = [str(document.id) for document in documents]
    conditions: list[ColumnElement[bool]] = [(AuditEvent.object_type == DOCUMENT) & AuditEvent.object_id.in_(ids)]
    if scope.kind == CASE:
        conditions.append(AuditEvent.case_id == str(scope.id))
    return list(session.scalars(select(AuditEvent.seq).where(or_(*conditions)).order_by(AuditEvent.seq)))


def _segments(relevant: list[int], checkpoints: list[AuditCheckpoint]) -> tuple[list[tuple[int, int]], list[AuditCheckpoint]]:
    """For each relevant event, the stretch of chain up to the first checkpoint at or after it; merged."""
    seqs = [checkpoint.seq for checkpoint in checkpoints]
    segments: list[tuple[int, int]] = []
    needed: dict[int, AuditCheckpoint] = {}
    for seq in relevant:
        checkpoint = checkpoints[bisect.bisect_left(seqs, seq)]
        needed.setdefault(checkpoint.number, checkpoint)
        if segments and seq <= segments[-1][1] + 1:
            segments[-1] = (segments[-1][0], max(segments[-1][1], checkpoint.seq))
        else:
            segments.append((seq, checkpoint.seq))
    return segments, sorted(needed.values(), key=lambda checkpoint: checkpoint.number)


def _certificates(settings) -> dict[str, tuple[str, x509.Certificate]]:
    store = PkiStore.for_settings(settings)
    certificates = {role: (path, store.certificate(name)) for role, (path, name) in PKI_FILES.items()}
    # Roots replaced by a rollover (edms pki rollover-root): what was signed under them still chains to them.
    for number, root in enumerate(reversed(store.retired_certificates(ROOT)), start=1):
        certificates[f"{report.PREVIOUS_ROOT}{number}"] = (f"pki/previous-root-{number}.pem", root)
    for number, ca in enumerate(reversed(store.retired_certificates(SIGNING_CA)), start=1):
        certificates[f"{report.PREVIOUS_SIGNING_CA}{number}"] = (f"pki/previous-signing-ca-{number}.pem", ca)
    return certificates


def _version_item(session: Session, document: dm.Document, version: dm.DocumentVersion, directory: str,
                  shown: Mapping[str, presentation.Manifestation], trust, env: ExportEnvironment,
                  stored: StoredRows) -> VersionItem:
    base = f"{directory}/v{version.version}"
    content = version_content(document, version)
    signatures = []
    for row in stored.signatures.get(version.id, []):
        item = shown.get(row.signature_id) or presentation.manifestation(
            session, row, trust, env.document_types.get(document.type_key))
        signatures.append(SignedItem(row, item, f"{base}/signatures/{row.signature_id}", stored.evidence.get(row.id)))
    return VersionItem(
        row=version, content_path=f"{base}/content.json", content_sha256=hashlib.sha256(content).hexdigest(),
        renditions={"pdf": f"{base}/rendition.pdf", "docx": f"{base}/rendition.docx"},
        attachments=[(attachment, f"{base}/attachments/{attachment.sha256[:12]}-{_safe(attachment.display_name)}")
                     for attachment in version.attachments],
        signatures=signatures,
        signed_pdf=(f"{base}/signed.pdf", revisions) if (revisions := stored.pdf_revisions.get(version.id)) else None,
    )


def _safe(name: str) -> str:
    cleaned = _UNSAFE.sub("_", name).strip(" .")
    return cleaned[:100] or "_"


def environment_from_settings(settings, document_types: Mapping[str, DocumentType], blobs: BlobStore,
                              regimes: Mapping[str, Regime] | None = None) -> ExportEnvironment:
    """Without `regimes`, the regimes of the configured forms directory (as the application loads them)."""
    if regimes is None:
        regimes = load_regimes(settings.forms_dir / "regimes", document_types)
    return ExportEnvironment(settings, document_types, blobs, lambda: system_signer(settings),
                             lambda: signing_authority(settings), regimes)

