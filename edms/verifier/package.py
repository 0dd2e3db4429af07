"""Checking an edms inspection package offline: its files, its seal, its PKI, then its audit trail
(`package_audit`) and its records and signatures (`package_records`).

What it checks, and prints one PASS or FAIL line for:
- every file against the SHA-256 in manifest.json; files missing from the package or not listed in it;
- manifest.json's CMS signature by the package's system certificate, and its RFC 3161 time-stamp;
- every electronic signature: the CMS over its manifest.json, the signer's certificate chain to the
  package's root CA, validity and revocation (the package's CRL) at the time-stamped moment, the
  time-stamp over the signature value, the certificate naming the signer of the manifest, and the
  manifest naming this document, version and content SHA-256 (recomputed from content.json);
- every version's content.json against its recorded content hash and its attachments' hashes;
- every audit event's hash and previous-hash link, and each chain segment ending at a checkpoint whose
  system signature and time-stamp verify and whose signed head hash is that of the segment's last event;
- the audit events that record the package's submissions and signatures;
- every signed PDF: each revision's length and SHA-256, each PDF signature's byte range and CMS, each
  document time-stamp (`package_pdfs`; a full PDF validation needs pyHanko or pdfsig).

Everything is judged at the time-stamped moments, never at today's date, so a package verifies the same
way years later (EU Annex 11 §17).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import IO, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from edms.verifier import memo
from edms.verifier.chain import describe, issued_by, utc
from edms.verifier.cms import signature_value
from edms.verifier.constants import (
    MANIFEST,
    PACKAGE_FORMATS,
    PACKAGE_TYPE,
    SEAL_FILES,
    SEAL_SIGNATURE,
    SEAL_TIMESTAMP,
    SEAL_VALUE,
)
from edms.verifier.contents import Package, Trust, open_package
from edms.verifier.errors import Invalid
from edms.verifier.package_audit import check_audit
from edms.verifier.package_pdfs import check_signed_pdfs
from edms.verifier.package_records import check_documents
from edms.verifier.package_tree import check_tree
from edms.verifier.report import Report
from edms.verifier.timestamp import Stamp

_Result = TypeVar("_Result")
PREVIOUS_ROOT = "previous_root_"  # manifest.json's pki entries of the roots a rollover replaced


def verify_package(source: str | IO[bytes], *, root_pem: bytes | None = None,
                   judged_at: datetime | None = None) -> Report:
    """Check everything in the package at `source` (a path or a file object); never raises for a bad package.

    One run: the certificates and CRLs its signatures share are checked once (`edms.verifier.memo`)."""
    with memo.shared_run():
        return _verify_package(source, root_pem, judged_at)


def _verify_package(source: str | IO[bytes], root_pem: bytes | None, judged_at: datetime | None) -> Report:
    report = Report()
    try:
        files = open_package(source)
    except Exception as exc:  # noqa: BLE001 (zipfile raises many kinds for a damaged archive)
        report.add(False, "package", f"cannot be read: {exc or type(exc).__name__}")
        return report
    try:
        manifest = json.loads(files[MANIFEST].decode("utf-8"))
        if not isinstance(manifest, dict) or manifest.get("type") != PACKAGE_TYPE:
            raise ValueError("not an edms inspection package manifest")
        if manifest.get("format") not in PACKAGE_FORMATS:
            raise ValueError(f"package format {manifest.get('format')!r} is not one this verifier knows")
    except KeyError:
        report.add(False, MANIFEST, "missing: this is not an edms inspection package")
        return report
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        report.add(False, MANIFEST, f"unreadable: {exc}")
        return report
    package = Package(files, manifest)
    trust = _check_pki(report, package, root_pem)
    if trust is not None:
        trust.judged_at = judged_at
    _guarded(report, "files", lambda: _check_files(report, package))
    if trust is None:
        return report
    _check_seal(report, package, trust)
    events = _guarded(report, "audit events", lambda: check_audit(report, package, trust)) or {}
    _guarded(report, "audit tree", lambda: check_tree(report, package, trust, events))
    _guarded(report, "documents", lambda: check_documents(report, package, trust, events))
    _guarded(report, "signed PDFs", lambda: check_signed_pdfs(report, package, trust))
    return report


def _guarded(report: Report, part: str, check: Callable[[], _Result]) -> _Result | None:
    """One part of the package; a manifest.json too malformed to walk is a FAIL line for it, never a crash."""
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 (a hostile package must not stop the verifier)
        report.add(False, part, f"manifest.json describes them in a malformed way ({type(exc).__name__}: {exc})")
        return None


def _check_pki(report: Report, package: Package, root_pem: bytes | None) -> Trust | None:
    paths = package.manifest.get("pki") or {}

    def load() -> Trust:
        root = x509.load_pem_x509_certificate(package.read(paths["root"]))
        previous = [x509.load_pem_x509_certificate(package.read(path)) for name, path in sorted(paths.items())
                    if name.startswith(PREVIOUS_ROOT)]
        if root_pem is not None:
            # --root may hold several PEM certificates: the current root and the roots it replaced.
            pinned = x509.load_pem_x509_certificates(root_pem)
            if root not in pinned:
                raise Invalid("the package's root CA is not the root CA you gave (--root): do not trust this package")
            for old in previous:
                if old not in pinned:
                    raise Invalid(f"the package's previous root {describe(old)} is not among the roots you gave "
                                  "(--root): add it to that file if the organisation published it")
        roots = [root, *previous]
        others = [x509.load_pem_x509_certificate(package.read(paths[name])) for name in ("signing_ca", "tsa", "system")]
        for cert in others:
            if not any(issued_by(cert, anchor) for anchor in roots):
                raise Invalid(f"the certificate of {describe(cert)} is not issued by the package's root CA")
        crls = [x509.load_pem_x509_crl(package.read(path)) for path in paths.get("crls", [])]
        return Trust(root, others[2], [others[0]], crls, previous_roots=previous)

    def success(trust: Trust) -> str:
        pinned = "matches the root CA you gave" if root_pem is not None else \
            "compare this fingerprint with the one the organisation publishes, or pass --root"
        earlier = "".join(f"; previous root {describe(old)}, SHA-256 fingerprint "
                          f"{old.fingerprint(hashes.SHA256()).hex(':').upper()}" for old in trust.previous_roots)
        return (f"root CA {describe(trust.root)}, SHA-256 fingerprint "
                f"{trust.root.fingerprint(hashes.SHA256()).hex(':').upper()}{earlier} ({pinned})")

    return report.check("certificates", load, success)


def _check_files(report: Report, package: Package) -> None:
    listed = {entry["path"]: entry for entry in package.manifest.get("files", [])}
    bad = 0
    for path, entry in sorted(listed.items()):
        data = package.files.get(path)
        if data is None:
            report.add(False, f"file {path}", "listed in manifest.json but missing from the package")
            bad += 1
        elif hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            report.add(False, f"file {path}", f"SHA-256 {hashlib.sha256(data).hexdigest()} differs from manifest.json "
                                              f"({entry.get('sha256')}): changed")
            bad += 1
        elif len(data) != entry.get("size"):
            report.add(False, f"file {path}", "size differs from manifest.json")
            bad += 1
    for path in sorted(set(package.files) - set(listed) - set(SEAL_FILES)):
        report.add(False, f"file {path}", "in the package but not listed in manifest.json (added)")
        bad += 1
    for path in SEAL_FILES[1:]:
        if path not in package.files:
            report.add(False, f"file {path}", "missing: the package's seal is incomplete")
            bad += 1
    if not bad:
        report.add(True, "files", f"all {len(listed)} files listed in manifest.json are present, unchanged "
                                  "(SHA-256 and size), and nothing else is in the package")


def _check_seal(report: Report, package: Package, trust: Trust) -> None:
    def check() -> Stamp:
        cms = package.read(SEAL_SIGNATURE)
        if package.read(SEAL_VALUE) != signature_value(cms):
            raise Invalid(f"{SEAL_VALUE} is not the signature value of {SEAL_SIGNATURE}")
        signed, stamp = trust.signed(cms, package.read(SEAL_TIMESTAMP), package.read(MANIFEST))
        if signed.signer != trust.system:
            raise Invalid(f"signed by {describe(signed.signer)}, not by the system certificate of the package")
        return stamp

    report.check(f"{MANIFEST} seal", check,
                 lambda stamp: f"signed by the system ({describe(trust.system)}), time-stamped {utc(stamp.gen_time)} "
                               f"by {describe(stamp.tsa)}")
