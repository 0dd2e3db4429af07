"""manifest.json of an inspection package (every file with its SHA-256 and size, and what the files are),
its system signature and time-stamp, and the ZIP they are sealed into."""
from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO

from edms.crypto.cms import signature_value
from edms.crypto.tsa import token_from_response
from edms.pki.store import SystemSigner
from edms.timeutil import isoformat_utc
from edms.verifier.constants import (
    MANIFEST,
    PACKAGE_TYPE,
    SEAL_SIGNATURE,
    SEAL_TIMESTAMP,
    SEAL_VALUE,
)

if TYPE_CHECKING:
    from edms.inspection.package import DocumentItem, PackageContent

FORMAT = 1
CRL_FILE = "pki/signing-ca.crl.pem"
EVENTS_FILE = "audit/events.jsonl"
# The offline verifier, as a zipapp (`python3 edms_verify.pyz PACKAGE.zip`); packages of edms 0.1 shipped
# it as the single file edms_verify.py.
VERIFIER_FILE = "edms_verify.pyz"
# Files whose bytes are compressed already (PDF streams, DOCX and zipapp ZIPs): stored in the package as they
# are, not deflated again (issue 15: deflating them was ~20 % of an export for ~1/3 of the package's size,
# the hex of the PDFs' signature fields). Any ZIP reader, edms-verify included, reads both methods.
STORED_SUFFIXES = (".pdf", ".docx", ".pyz")


def manifest_json(files: Mapping[str, tuple[str, int]], content: PackageContent) -> bytes:
    """`files`: each file's path with its SHA-256 (hex) and size."""
    created_by = content.created_by
    document = {
        "type": PACKAGE_TYPE,
        "format": FORMAT,
        "created_at": isoformat_utc(content.created_at),
        "created_by": {"user_id": created_by.user_id, "name": created_by.user_name},
        "app_version": content.app_version,
        "organisation": content.organisation,
        "scope": {"kind": content.scope.kind, "id": content.scope.id},
        "language": content.language,
        "display_timezone": content.display_tz,
        "pki": {**{role: path for role, (path, _cert) in content.certificates.items()}, "crls": [CRL_FILE]},
        "documents": [_document_json(document) for document in content.documents],
        "audit": {
            "events": EVENTS_FILE,
            "export_event_seq": content.export_seq,
            "relevant_seqs": content.relevant,
            "segments": [list(segment) for segment in content.segments],
            "checkpoints": [{"number": item.row.number, "seq": item.row.seq, "dir": item.directory}
                            for item in content.checkpoints],
            **({"tree": "audit/tree.json"} if content.tree is not None else {}),
        },
        "reports": {"html": "report.html", "pdf": "report.pdf", "verify": "VERIFY.md", "verifier": VERIFIER_FILE},
        "files": [{"path": path, "sha256": digest, "size": size} for path, (digest, size) in sorted(files.items())],
    }
    return (json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _document_json(item: DocumentItem) -> dict[str, Any]:
    document = item.row
    return {
        "id": document.id, "number": document.number, "type": document.type_key, "title": document.title,
        "status": document.status, "case_id": document.case_id, "retention": _retention_json(item),
        "versions": [{
            "version": version.row.version, "status": version.row.status, "title": version.row.title,
            "reason": version.row.reason, "created_at": isoformat_utc(version.row.created_at),
            "frozen_at": isoformat_utc(version.row.frozen_at) if version.row.frozen_at else None,
            "content_sha256": version.row.content_sha256, "content": version.content_path,
            "renditions": version.renditions,
            "signed_pdf": None if version.signed_pdf is None else {
                "path": version.signed_pdf[0],
                "revisions": [{"revision": r.revision, "kind": r.kind, "length": r.length, "sha256": r.sha256,
                               "signature_id": r.signature_id} for r in version.signed_pdf[1]],
            },
            "attachments": [{"name": attachment.display_name, "media_type": attachment.media_type,
                             "size": attachment.size, "sha256": attachment.sha256, "path": path}
                            for attachment, path in version.attachments],
            "signatures": [{
                "signature_id": signed.row.signature_id, "kind": signed.row.kind, "step": signed.row.step,
                "meaning": signed.row.meaning, "signer": signed.shown.printed_name,
                "signed_at": isoformat_utc(signed.row.signed_at),
                "timestamped_at": isoformat_utc(signed.row.timestamped_at), "dir": signed.directory,
            } for signed in version.signatures],
        } for version in item.versions],
    }


def _retention_json(item: DocumentItem) -> dict[str, Any] | None:
    """How long the record must be kept (the case regime's rule); `keep_until` is the last day at the site."""
    retention = item.retention
    if retention is None:
        return None
    rule = retention.rule
    return {
        "keep_until": retention.keep_until.isoformat() if retention.keep_until else None,
        "years": rule.years, "from": rule.start,
        "starts_at": isoformat_utc(retention.starts_at) if retention.starts_at else None,
        "source": rule.source, "assumption": rule.assumption,
    }


class PackageWriter:
    """The package's ZIP, written to `out` file by file as the files are made: only each file's SHA-256 and
    size are kept (for manifest.json), never the whole package. `seal` adds manifest.json, its system
    signature and the time-stamp of that signature, and ends the ZIP. `out` needs no seek (a pipe, a
    response stream): the entries then carry data descriptors. If anything fails before `seal` returns, `out`
    holds an unfinished ZIP: the caller discards it."""

    def __init__(self, out: BinaryIO, created_at: datetime) -> None:
        self._out = _Digesting(out)
        self._zip = zipfile.ZipFile(self._out, "w", zipfile.ZIP_DEFLATED)
        self._moment = created_at.timetuple()[:6]
        self.files: dict[str, tuple[str, int]] = {}

    def add(self, path: str, data: bytes, sha256: str | None = None) -> None:
        """`sha256`: the hex SHA-256 of `data` where the caller has just computed it over these very bytes (a
        blob store checks what it reads against it), so that each file is hashed once."""
        if path in self.files or path in _SEAL_FILES:
            raise ValueError(f"{path} is already in the package")
        self._write(path, data)
        self.files[path] = (sha256 or hashlib.sha256(data).hexdigest(), len(data))

    def _write(self, path: str, data: bytes) -> None:
        info = zipfile.ZipInfo(path, date_time=self._moment)  # UTC: ZIP stores no zone
        info.compress_type = zipfile.ZIP_STORED if path.endswith(STORED_SUFFIXES) else zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        self._zip.writestr(info, data)

    def seal(self, content: PackageContent, signer: SystemSigner) -> str:
        """manifest.json over every file added, signed and time-stamped; returns the manifest's SHA-256."""
        manifest = manifest_json(self.files, content)
        cms = signer.sign(manifest)
        value = signature_value(cms)
        stamp = signer.timestamp(hashlib.sha256(value).digest())
        token_from_response(stamp)  # refuses a TSA's refusal before the package is finished
        for path, data in ((MANIFEST, manifest), (SEAL_SIGNATURE, cms), (SEAL_VALUE, value), (SEAL_TIMESTAMP, stamp)):
            self._write(path, data)
        self._zip.close()
        return hashlib.sha256(manifest).hexdigest()

    def discard(self) -> None:
        """After a failure: end the ZIP into nothing, so that neither this call nor the garbage collector
        (ZipFile.__del__ closes it) writes to an `out` the caller is throwing away or has closed."""
        self._out.discard()
        self._zip.close()

    @property
    def sha256(self) -> str:
        return self._out.digest.hexdigest()

    @property
    def size(self) -> int:
        return self._out.size


_SEAL_FILES = frozenset({MANIFEST, SEAL_SIGNATURE, SEAL_VALUE, SEAL_TIMESTAMP})


class _Digesting:
    """A write-only stream over `out` that hashes and counts what passes (no tell or seek: zipfile then
    writes data descriptors and never goes back)."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self.digest = hashlib.sha256()
        self.size = 0
        self._discarded = False

    def discard(self) -> None:
        self._discarded = True

    def write(self, data: bytes) -> int:
        if self._discarded:
            return len(data)
        self._out.write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        """zipfile never closes a stream it was given; neither does this one (the caller owns `out`)."""
