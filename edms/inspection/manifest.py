"""manifest.json of an inspection package (every file with its SHA-256 and size, and what the files are),
its system signature and time-stamp, and the ZIP they are sealed into."""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

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


def manifest_json(files: Mapping[str, bytes], content: PackageContent) -> bytes:
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
        "files": [{"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                  for path, data in sorted(files.items())],
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


def seal(files: dict[str, bytes], content: PackageContent, signer: SystemSigner) -> tuple[bytes, str]:
    """manifest.json, its system signature and the time-stamp of that signature; then the ZIP."""
    manifest = manifest_json(files, content)
    cms = signer.sign(manifest)
    value = signature_value(cms)
    stamp = signer.timestamp(hashlib.sha256(value).digest())
    token_from_response(stamp)  # refuses a TSA's refusal before anything is written
    sealed = {MANIFEST: manifest, SEAL_SIGNATURE: cms, SEAL_VALUE: value, SEAL_TIMESTAMP: stamp, **files}
    buffer = io.BytesIO()
    moment = content.created_at.timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in sealed.items():
            info = zipfile.ZipInfo(path, date_time=moment)  # UTC: ZIP stores no zone
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue(), hashlib.sha256(manifest).hexdigest()
