"""The signed PDFs inside an inspection package, checked with `cryptography` and the standard library alone.

For each version's signed PDF: every revision manifest.json lists has the recorded length and SHA-256 (the
file was only ever appended to), and each PDF signature's byte range covers exactly one whole revision
except its own /Contents, whose CMS verifies over those bytes: a PAdES signature by a certificate chaining
to the package's root (judged at the time-stamp of the edms signature it carries), a document time-stamp
by the TSA. A full PDF validation (what each incremental update changed, the DSS, AdES long-term
validation) needs a PDF library: pyHanko or poppler's pdfsig (VERIFY.md gives the commands).
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from functools import partial
from typing import Any

from edms.verifier.cms import signed_data, verify_cms
from edms.verifier.contents import Package, Trust
from edms.verifier.errors import Invalid
from edms.verifier.report import Report
from edms.verifier.timestamp import TST_INFO, verify_timestamp

_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")
FULL_VALIDATION = "full PDF validation (changes between revisions, DSS, long-term validation) needs pyHanko or pdfsig"


def check_signed_pdfs(report: Report, package: Package, trust: Trust) -> None:
    for document in package.manifest.get("documents", []):
        for version in document.get("versions", []):
            signed_pdf = version.get("signed_pdf")
            if not signed_pdf:
                continue
            entries = version.get("signatures", [])
            times = {entry.get("signature_id"): entry.get("timestamped_at") for entry in entries}
            report.check(f"signed PDF {document.get('number')} v{version.get('version')}",
                         partial(_signed_pdf, package, trust, signed_pdf, times, entries), str)


def _der(contents: bytes) -> bytes:
    """The DER structure at the start of a /Contents value (which is padded with zeros)."""
    if len(contents) < 2 or contents[0] != 0x30:
        raise Invalid("the signature's /Contents is not a DER SEQUENCE")
    length, start = contents[1], 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4:
            raise Invalid("the signature's /Contents has a malformed DER length")
        length, start = int.from_bytes(contents[2:2 + count], "big"), 2 + count
    if start + length > len(contents):
        raise Invalid("the signature's /Contents is truncated")
    return contents[:start + length]


def _signed_pdf(package: Package, trust: Trust, signed_pdf: dict[str, Any], times: dict[str, Any],
                entries: list[dict[str, Any]]) -> str:
    pdf = package.read(signed_pdf["path"])
    revisions = signed_pdf.get("revisions") or []
    for entry in entries:  # each signature made with the PDF names the frozen PDF in its signed manifest
        named = json.loads(package.read(f"{entry['dir'].rstrip('/')}/manifest.json")).get("pdf_sha256")
        if named is not None and revisions and named != revisions[0].get("sha256"):
            raise Invalid(f"signature {entry.get('signature_id')} signed the frozen PDF {named}, not this one "
                          f"({revisions[0].get('sha256')})")
    if not revisions or revisions[-1].get("length") != len(pdf):
        raise Invalid(f"{signed_pdf['path']} is not as long as its last recorded revision")
    ends = {}
    for revision in revisions:
        length = revision["length"]
        if hashlib.sha256(pdf[:length]).hexdigest() != revision.get("sha256"):
            raise Invalid(f"revision {revision.get('revision')} ({revision.get('kind')}) does not hash to its "
                          "recorded SHA-256: an earlier revision was changed")
        ends[length] = revision
    signatures = stamps = 0
    for match in _BYTE_RANGE.finditer(pdf):
        start, first, second, rest = (int(value) for value in match.groups())
        end = second + rest
        if start != 0 or not first < second <= end <= len(pdf):
            raise Invalid(f"a byte range {list(match.groups())} does not cover a revision from its first byte")
        revision = ends.get(end)
        if revision is None:
            raise Invalid(f"a PDF signature covers bytes 0 to {end}, which is not the end of a recorded revision")
        hole = pdf[first:second]
        if not (hole.startswith(b"<") and hole.endswith(b">")) or re.search(rb"[^0-9A-Fa-f]", hole[1:-1]):
            raise Invalid("a byte range leaves out more than the signature's own /Contents")
        der = _der(bytes.fromhex(hole[1:-1].decode("ascii")))
        signed = pdf[:first] + pdf[second:end]
        if signed_data(der).content_type == TST_INFO:
            verify_timestamp(der, hashlib.sha256(signed).digest(), trust.roots, untrusted=trust.intermediates,
                             crls=trust.crls)
            stamps += 1
            continue
        stamped = times.get(revision.get("signature_id"))
        if not isinstance(stamped, str):
            raise Invalid(f"revision {revision.get('revision')} carries a PDF signature no edms signature of this "
                          "version accounts for")
        moment = datetime.strptime(stamped, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        verify_cms(der, signed, trust.roots, moment, untrusted=trust.intermediates, crls=trust.crls)
        signatures += 1
    return (f"{len(revisions)} revision(s) intact (length and SHA-256 as recorded); {signatures} PDF signature(s) "
            f"(each judged at its edms signature's time-stamp) and {stamps} document time-stamp(s) verify over "
            f"their byte ranges; {FULL_VALIDATION}")
