"""The export's fast path (issue 15): the package is written into the ZIP file by file, and a version's PDF
frozen at submission and signed at each step is its rendition where the package is in that PDF's language
and zone, rather than a second PDF made again. The package verifies offline exactly as before, and a stored
PDF changed behind edms's back is caught, never exported. report.pdf, made from a font cut down to what it
prints, is byte for byte the report the whole font gives."""
from __future__ import annotations

import hashlib
import io
import json

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from edms.documents.blobstore import BlobCorrupted
from edms.documents.models import Document
from edms.documents.pdf_models import SignedPdfRevision
from edms.inspection import report
from edms.inspection.package import CASE, DOCUMENT, Scope
from edms.verifier.package import verify_package
from tests.integration.test_verdict_parity import find_target, flip_cms_bit
from tests.support.inspection import export_into, package_files, site_locale


class WriteOnly:
    """A stream with no tell or seek (a pipe, a response body): the package is still written into it."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()

    def write(self, data: bytes) -> int:
        return self.buffer.write(data)

    def flush(self) -> None:
        pass


@pytest.mark.req("11.10(b)")
@pytest.mark.req("ERES-preservation")
def test_a_case_package_written_into_a_stream_without_seek_verifies_offline(app, signed_case):
    language, zone = site_locale(app, signed_case.documents[0])
    out = WriteOnly()
    exported = export_into(app, Scope(CASE, signed_case.case_id), out, language=language, zone=zone)
    data = out.buffer.getvalue()
    report = verify_package(io.BytesIO(data))
    assert report.ok, [item.line() for item in report.failures]
    assert exported.size == len(data)
    assert exported.sha256 == hashlib.sha256(data).hexdigest()
    files = package_files(data)
    manifest = json.loads(files["manifest.json"])
    assert exported.files == len(manifest["files"]) == len(files) - 4  # the manifest and its seal are not listed
    assert {entry["path"] for entry in manifest["files"]} == set(files) - {
        "manifest.json", "manifest.json.p7s", "manifest.json.sigvalue.bin", "manifest.json.tsr"}


@pytest.mark.req("11.10(b)")
def test_in_the_sites_language_and_zone_a_signed_versions_rendition_is_its_stored_signed_pdf(app, signed_case):
    document_id = signed_case.documents[0]
    language, zone = site_locale(app, document_id)
    out = io.BytesIO()
    export_into(app, Scope(DOCUMENT, document_id), out, language=language, zone=zone)
    files = package_files(out.getvalue())
    manifest = json.loads(files["manifest.json"])
    services = app.extensions["edms"]
    with services.sessions() as session:
        signed_versions = set(session.scalars(select(SignedPdfRevision.version_id)))
        document = session.get(Document, document_id)
        with_pdf = {version.version for version in document.versions if version.id in signed_versions}
    assert with_pdf, "the signed case's versions have signed PDFs"
    for version in manifest["documents"][0]["versions"]:
        if version["version"] in with_pdf:
            assert version["renditions"]["pdf"] == version["signed_pdf"]["path"]
            stored = services.blobs.get(version["signed_pdf"]["revisions"][-1]["sha256"])
            assert files[version["renditions"]["pdf"]] == stored
        else:
            assert version["renditions"]["pdf"].endswith("/rendition.pdf")
        assert files[version["renditions"]["docx"]].startswith(b"PK")
    assert verify_package(io.BytesIO(out.getvalue())).ok


@pytest.mark.req("11.10(b)")
def test_in_another_language_every_version_gets_a_rendition_of_its_own(app, signed_case):
    document_id = signed_case.documents[0]
    language, zone = site_locale(app, document_id)
    other = "en" if language == "ja" else "ja"
    out = io.BytesIO()
    export_into(app, Scope(DOCUMENT, document_id), out, language=other, zone=zone)
    files = package_files(out.getvalue())
    manifest = json.loads(files["manifest.json"])
    for version in manifest["documents"][0]["versions"]:
        assert version["renditions"]["pdf"].endswith("/rendition.pdf")
        assert files[version["renditions"]["pdf"]].startswith(b"%PDF")
    assert verify_package(io.BytesIO(out.getvalue())).ok


@pytest.mark.req("11.10(a)")
def test_a_tampered_stored_signed_pdf_is_caught_and_never_exported(app, signed_case):
    document_id = signed_case.documents[0]
    language, zone = site_locale(app, document_id)
    services = app.extensions["edms"]
    with services.sessions() as session:
        document = session.get(Document, document_id)
        version_ids = [version.id for version in document.versions]
        latest = session.scalars(select(SignedPdfRevision).where(SignedPdfRevision.version_id.in_(version_ids))
                                 .order_by(SignedPdfRevision.id.desc())).first()
    assert latest is not None
    stored = next(path for path in (services.settings.data_dir / "blobs").rglob(latest.sha256 + "*"))
    stored.write_bytes(stored.read_bytes().replace(b"%%EOF", b"%%EOF\n% appended behind edms's back"))
    with pytest.raises(BlobCorrupted):
        export_into(app, Scope(DOCUMENT, document_id), io.BytesIO(), language=language, zone=zone)


@pytest.mark.req("11.10(b)")
@pytest.mark.parametrize("tampered", [False, True], ids=["good", "one-signature-tampered"])
def test_report_pdf_from_the_cut_down_font_is_byte_for_byte_the_report_from_the_whole_font(app, signed_case, settings,
                                                                                           monkeypatch, tampered):
    """The case's own report (Japanese site, every version, signature and history line; with one signature
    tampered with, its line is printed in red as invalid) as each export writes it and as fpdf2 makes it from
    the whole font with its own cell: the same bytes."""
    if tampered:
        flip_cms_bit(settings, find_target(app.extensions["edms"], signed_case.documents[0]))
    made = report.report_pdf
    reports: list[tuple[bytes, bytes]] = []

    def both(content, verifier_sha256=""):
        fast = made(content, verifier_sha256)
        reports.append((fast, made(content, verifier_sha256, raw_lines=False, whole_font=True)))
        return fast

    monkeypatch.setattr(report, "report_pdf", both)
    language, zone = site_locale(app, signed_case.documents[0])
    out = io.BytesIO()
    export_into(app, Scope(CASE, signed_case.case_id), out, language=language, zone=zone)
    [(fast, reference)] = reports
    assert fast == reference
    assert package_files(out.getvalue())["report.pdf"] == fast
    assert (b"invalid" in _text(fast)) is tampered


def _text(pdf: bytes) -> bytes:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).encode()
