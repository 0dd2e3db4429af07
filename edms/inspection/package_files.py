"""The files of an inspection package (edms.inspection.package), made one at a time as they are written:
each document version's (content, renditions, attachments, signed PDF, signatures), then the trailer
(certificates, CRL, audit trail, checkpoints, tree proofs, verifier, report), counted beforehand so that an
export's progress has its total from the start."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.serialization import Encoding

from edms.audit.chain import canonical_bytes
from edms.audit.checkpoints import checkpoint_payload
from edms.crypto.cms import signature_value, signer_certificate
from edms.documents.queries import version_content
from edms.inspection import report
from edms.inspection.manifest import CRL_FILE, EVENTS_FILE, VERIFIER_FILE
from edms.inspection.tree_proofs import TREE_FILE
from edms.verifier.bundle import zipapp_bytes

if TYPE_CHECKING:
    from edms.inspection.package import CheckpointItem, ExportEnvironment, PackageContent, SignedItem
    from edms.inspection.renderer import DocxSource

# Each file after the records': its path and how to make its bytes (when it is written).
Trailer = list[tuple[str, Callable[[], bytes]]]
# A file of the package: its path, its bytes and, when it was read from the blob store (which checks the bytes
# against it as it reads them), their SHA-256, so that the package writer does not hash them a second time.
PackageFile = tuple[str, bytes, str | None]


def package_files(content: PackageContent, env: ExportEnvironment, trailer: Trailer, made: list[tuple[DocxSource, bytes]],
                  tick: Callable[[], None] = lambda: None) -> Iterator[PackageFile]:
    """Every file of the package but manifest.json and its seal, one at a time, as it is made or read;
    `tick` after each document version's files and after each file of the `trailer` (written by then). The
    DOCX renditions made (not read from the blob store) are added to `made`, to be stored after the seal."""
    rendered = iter(zip(content.renditions, content.docx, strict=True))

    def stored(path: str, sha256: str) -> PackageFile:  # checked against its SHA-256 as it is read (BlobCorrupted)
        return path, env.blobs.get(sha256), sha256

    for document in content.documents:
        for version in document.versions:
            yield version.content_path, version_content(document.row, version.row), None
            future, source = next(rendered)
            pdf, docx = future.result()
            if pdf is not None:  # else the rendition is the signed PDF, written below
                yield version.renditions["pdf"], pdf, None
            if docx is None:
                assert source.stored is not None
                yield stored(version.renditions["docx"], source.stored.sha256)
            else:
                made.append((source, docx))
                yield version.renditions["docx"], docx, None
            for attachment, path in version.attachments:
                yield stored(path, attachment.sha256)
            if version.signed_pdf is not None:
                path, revisions = version.signed_pdf
                yield stored(path, revisions[-1].sha256)
            for signed in version.signatures:
                yield from ((path, data, None) for path, data in _signature_files(signed).items())
            tick()
    for path, make in trailer:
        yield path, make(), None
        tick()


def _given(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def trailer_files(content: PackageContent) -> Trailer:
    """The files after the records' (certificates, audit trail, checkpoints, verifier, report), each made when
    written: counted beforehand, so that the progress of an export has its total from the start."""
    files: Trailer = []
    for path, cert in content.certificates.values():
        files.append((path, partial(cert.public_bytes, Encoding.PEM)))
    files.extend((path, _given(data)) for path, data in report.trust_files(content.certificates)[2].items())
    files.append((CRL_FILE, lambda: content.crl.public_bytes(Encoding.PEM)))
    files.append((EVENTS_FILE, lambda: b"".join(canonical_bytes(event.hashed_fields()) + b"\n"
                                                for event in content.events)))
    for checkpoint in content.checkpoints:
        files.extend((path, _given(data)) for path, data in _checkpoint_files(checkpoint).items())
    if content.tree is not None:
        tree = content.tree
        files.append((TREE_FILE, lambda: json.dumps(tree, sort_keys=True, indent=1).encode("ascii")))
    verifier = zipapp_bytes()
    verifier_sha256 = hashlib.sha256(verifier).hexdigest()
    files.append((VERIFIER_FILE, _given(verifier)))
    files.append(("report.html", lambda: report.report_html(content, verifier_sha256).encode("utf-8")))
    files.append(("report.pdf", lambda: report.report_pdf(content, verifier_sha256)))
    files.append(("VERIFY.md", lambda: report.verify_markdown(content, {VERIFIER_FILE: verifier}).encode("utf-8")))
    return files


def _signature_files(signed: SignedItem) -> dict[str, bytes]:
    row, base = signed.row, signed.directory
    files = {
        f"{base}/manifest.json": row.manifest,
        f"{base}/signature.p7s": row.cms,
        f"{base}/timestamp.tsr": row.timestamp_response,
        f"{base}/sigvalue.bin": signature_value(row.cms),
        f"{base}/signer.pem": signer_certificate(row.cms).public_bytes(Encoding.PEM),
    }
    if signed.evidence is not None:
        files[f"{base}/evidence.ers"] = signed.evidence  # RFC 4998 archive time-stamps (edms archive-timestamps)
    return files


def _checkpoint_files(item: CheckpointItem) -> dict[str, bytes]:
    row, base = item.row, item.directory
    return {
        f"{base}/payload.json": checkpoint_payload(row.number, row.seq, row.head_hash, row.created_at),
        f"{base}/signature.p7s": row.signature,
        f"{base}/timestamp.tst": row.timestamp_token,
        f"{base}/sigvalue.bin": signature_value(row.signature),
    }
