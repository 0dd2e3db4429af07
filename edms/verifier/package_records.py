"""The records inside an inspection package: each version's content.json against its content hash, and
each electronic signature against its manifest, certificate, time-stamp, version and audit event."""
from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from functools import partial
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from edms.verifier.archive import verify_long_term
from edms.verifier.audit_log import Event, index, new_value
from edms.verifier.chain import utc
from edms.verifier.cms import signature_value
from edms.verifier.constants import (
    SIGNATURE_MANIFEST_TYPE,
    SIGNING_TIME_TOLERANCE,
    USER_CHAIN_LENGTH,
)
from edms.verifier.contents import Package, Trust
from edms.verifier.errors import Invalid
from edms.verifier.report import Report

_Submissions = dict[tuple[str, Any], list[Event]]


def check_documents(report: Report, package: Package, trust: Trust, events: dict[int, Event]) -> None:
    signature_events, submissions = index(events.values())
    listed_signatures = set()
    documents = package.manifest.get("documents", [])
    for document in documents:
        for version in document.get("versions", []):
            label = f"{document.get('number')} v{version.get('version')}"
            report.check(f"content {label}", partial(_content, package, document, version, submissions), str)
            content = package.files.get(version.get("content", ""))
            content_hash = None if content is None else hashlib.sha256(content).hexdigest()
            for entry in version.get("signatures", []):
                listed_signatures.add(entry.get("signature_id"))
                act = f"refused {entry.get('meaning')}" if entry.get("kind") == "rejection" else entry.get("meaning")
                report.check(f"signature {entry.get('signature_id')} ({label}, {entry.get('signer')}, {act})",
                             partial(_signature, package, trust, document, version, entry, content_hash,
                                     signature_events), str)
    ids = {str(document.get("id")) for document in documents}
    for signature_id, event in sorted(signature_events.items(), key=lambda item: item[1].seq):
        if event.fields["object_id"] in ids and signature_id not in listed_signatures:
            report.add(False, f"signature {signature_id}", f"recorded in the audit trail at seq {event.seq} but "
                                                           "missing from the package (removed)")


def _content(package: Package, document: dict[str, Any], version: dict[str, Any], submissions: _Submissions) -> str:
    """content.json: its SHA-256 is the version's content hash; it names this record; its attachments are in the package."""
    data = package.read(version["content"])
    actual = hashlib.sha256(data).hexdigest()
    content = json.loads(data.decode("utf-8"))
    if (content.get("number"), content.get("version"), content.get("type")) != \
            (document.get("number"), version.get("version"), document.get("type")):
        raise Invalid("content.json names another document or version")
    recorded = version.get("content_sha256")
    by_hash = {attachment.get("sha256"): attachment for attachment in version.get("attachments", [])}
    for attachment in content.get("attachments", []):
        stored = by_hash.get(attachment.get("sha256"))
        if stored is None:
            raise Invalid(f"the attachment {attachment.get('name')} named in content.json is not in the package")
        if hashlib.sha256(package.read(stored["path"])).hexdigest() != attachment["sha256"]:
            raise Invalid(f"the attachment {stored['path']} does not hash to the SHA-256 content.json records")
    if recorded is None:
        return f"draft (not frozen, so never hashed or signed); {len(content.get('attachments', []))} attachment(s)"
    if actual != recorded:
        raise Invalid(f"SHA-256 of content.json is {actual}, but the version's content hash is {recorded}: changed")
    submitted = [event for event in submissions.get((str(document.get("id")), version.get("version")), [])
                 if new_value(event, "content_sha256") == recorded]
    if not submitted:
        raise Invalid("no audit event in the package records the submission of this content hash")
    return (f"SHA-256 {actual} recomputes, as recorded at submission (audit seq {submitted[0].seq}); "
            f"{len(content.get('attachments', []))} attachment(s) present and unchanged")


def _signature(package: Package, trust: Trust, document: dict[str, Any], version: dict[str, Any],
               entry: dict[str, Any], content_hash: str | None, signature_events: dict[str, Event]) -> str:
    directory = entry["dir"].rstrip("/")
    manifest_bytes = package.read(f"{directory}/manifest.json")
    manifest = json.loads(manifest_bytes.decode("utf-8"))
    if not isinstance(manifest, dict) or manifest.get("type") != SIGNATURE_MANIFEST_TYPE:
        raise Invalid("manifest.json is not an edms signature manifest")
    if manifest.get("signature_id") != entry.get("signature_id"):
        raise Invalid(f"manifest.json is that of signature {manifest.get('signature_id')}, not of this one (swapped)")
    cms = package.read(f"{directory}/signature.p7s")
    if package.read(f"{directory}/sigvalue.bin") != signature_value(cms):
        raise Invalid("sigvalue.bin is not the signature value of signature.p7s")
    result, stamp = trust.signed(cms, package.read(f"{directory}/timestamp.tsr"), manifest_bytes)
    signer = result.signer
    if package.read(f"{directory}/signer.pem") != signer.public_bytes(Encoding.PEM):
        raise Invalid("signer.pem is not the certificate that made the signature")
    if len(result.chain) != USER_CHAIN_LENGTH:
        raise Invalid("the signing certificate is not a person's certificate from the organisation's signing CA")
    named = {"signer_printed_name": _attribute(signer, NameOID.COMMON_NAME),
             "signer_username": _attribute(signer, NameOID.USER_ID),
             "signer_user_id": _attribute(signer, NameOID.SERIAL_NUMBER)}
    claimed = {"signer_printed_name": manifest.get("signer_printed_name"),
               "signer_username": manifest.get("signer_username"),
               "signer_user_id": str(manifest.get("signer_user_id"))}
    if named != claimed:
        raise Invalid(f"the certificate names {named['signer_printed_name']} ({named['signer_username']}), not the "
                      f"signer in the manifest, {claimed['signer_printed_name']} ({claimed['signer_username']})")
    if (manifest.get("document_id"), manifest.get("document_number"), manifest.get("version")) != \
            (document.get("id"), document.get("number"), version.get("version")):
        raise Invalid(f"the signature belongs to {manifest.get('document_number')} version {manifest.get('version')}, "
                      f"not to {document.get('number')} version {version.get('version')} (copied or moved)")
    if content_hash is None or manifest.get("content_sha256") != content_hash:
        raise Invalid(f"the signed content hash {manifest.get('content_sha256')} is not the SHA-256 of this version's "
                      "content.json (content changed after signing)")
    signed_at = datetime.strptime(manifest["signed_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    if abs(stamp.gen_time - signed_at) > SIGNING_TIME_TOLERANCE:
        raise Invalid(f"the time-stamp ({utc(stamp.gen_time)}) does not match the signing time ({utc(signed_at)})")
    event = signature_events.get(entry["signature_id"])
    if event is None:
        raise Invalid("no audit event in the package records this signature")
    recorded = new_value(event, "signature") or {}
    if recorded.get("content_sha256") != manifest.get("content_sha256") or \
            event.fields["object_id"] != str(document.get("id")):
        raise Invalid(f"the audit event at seq {event.seq} records another signature")
    return _summary(manifest, signed_at, stamp.gen_time, content_hash, event) + \
        _archived(package, trust, directory, manifest_bytes, cms, stamp.gen_time)


def _archived(package: Package, trust: Trust, directory: str, manifest_bytes: bytes, cms: bytes,
              stamped: datetime) -> str:
    """evidence.ers: the RFC 4998 archive time-stamps that keep the signature verifiable after its
    certificates expire, judged at the moment of judgement (today unless --at). A signature without them
    (a package exported before they existed) is judged at its stamped moment as always, unless --at asks
    for a moment of judgement: then it must hold at that moment too."""
    evidence = package.files.get(f"{directory}/evidence.ers")
    at = trust.judged_at or (datetime.now(UTC) if evidence is not None else stamped)
    try:
        result = verify_long_term(manifest_bytes, cms, package.read(f"{directory}/timestamp.tsr"), evidence,
                                  trust.roots, at=at, crls=trust.crls)
    except Invalid as exc:
        when = f"on {utc(at)}" if trust.judged_at else "today"
        raise Invalid(f"long-term validation {when}: {exc}") from None
    if evidence is None:
        return (f"; no archive time-stamp yet (evidence.ers): in the long term it rests on its time-stamp's "
                f"certificate chain, trusted until {utc(result.valid_until)}")
    newest = result.layers[-1]
    return (f"; {result.archive_count} archive time-stamp(s) (RFC 4998 evidence.ers) valid, the newest of "
            f"{utc(newest.gen_time)} trusted until {utc(result.valid_until)}")


def _summary(manifest: dict[str, Any], signed_at: datetime, stamped: datetime, content_hash: str, event: Event) -> str:
    meaning = manifest.get("meaning")
    what = "refused to sign" if manifest.get("kind") == "rejection" else f"signed \"{meaning}\""
    delegation = manifest.get("delegation")
    if isinstance(delegation, dict):
        what += (f" on behalf of {delegation.get('on_behalf_of_printed_name')} (delegation "
                 f"{delegation.get('delegation_id')}, {delegation.get('valid_from')} to {delegation.get('valid_until')})")
    return (f"{manifest.get('signer_printed_name')} ({manifest.get('signer_role')}) {what} on {utc(signed_at)}; CMS "
            f"valid over manifest.json, certificate chain to the root valid and unrevoked at the time-stamp "
            f"{utc(stamped)}; bound to content SHA-256 {content_hash[:16]}…; recorded at audit seq {event.seq}")


def _attribute(cert: x509.Certificate, name: x509.ObjectIdentifier) -> str:
    values = cert.subject.get_attributes_for_oid(name)
    return str(values[0].value) if values else ""
