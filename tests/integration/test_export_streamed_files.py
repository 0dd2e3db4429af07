"""The export's round 4 (issue 15): files compressed already (PDF, DOCX, the verifier's zipapp) are stored in
the ZIP as they are, every other file deflated; each file is hashed once (a blob's SHA-256 is checked as it is
read and is the one the manifest lists); the renditions print the signatures exactly as a fresh verification
of the version shows them; and Python's garbage collector is left as the export found it."""
from __future__ import annotations

import gc
import hashlib
import io
import json
import zipfile

import pytest

from edms.documents.models import Document
from edms.inspection.package import CASE, DOCUMENT, Scope
from edms.inspection.timeline import document_timeline
from edms.signatures import presentation
from edms.verifier.package import verify_package
from tests.support.inspection import export_bytes, site_locale


@pytest.mark.req("11.10(b)")
@pytest.mark.req("ERES-preservation")
def test_pdf_docx_and_the_verifier_are_stored_as_they_are_and_every_other_file_is_deflated(app, signed_case):
    language, zone = site_locale(app, signed_case.documents[0])
    data = export_bytes(app, Scope(CASE, signed_case.case_id), language=language, zone=zone)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        methods = {info.filename: info.compress_type for info in archive.infolist()}
        assert archive.testzip() is None  # every entry's CRC, stored or deflated
    compressed_already = [path for path in methods if path.endswith((".pdf", ".docx", ".pyz"))]
    assert any(path.endswith("/signed.pdf") for path in compressed_already)
    assert any(path.endswith(".docx") for path in compressed_already)
    assert "edms_verify.pyz" in compressed_already
    for path, method in methods.items():
        expected = zipfile.ZIP_STORED if path in compressed_already else zipfile.ZIP_DEFLATED
        assert method == expected, path
    report = verify_package(io.BytesIO(data))
    assert report.ok, [item.line() for item in report.failures]


@pytest.mark.req("11.10(b)")
def test_every_file_read_from_the_blob_store_is_listed_with_the_sha256_of_the_very_bytes_in_the_package(
        app, signed_case):
    document_id = signed_case.documents[0]
    language, zone = site_locale(app, document_id)
    data = export_bytes(app, Scope(DOCUMENT, document_id), language=language, zone=zone)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {info.filename: archive.read(info) for info in archive.infolist()}
    manifest = json.loads(files["manifest.json"])
    blobs = app.extensions["edms"].blobs
    signed_pdfs = 0
    for version in manifest["documents"][0]["versions"]:
        if version["signed_pdf"] is not None:
            signed_pdfs += 1
            latest = version["signed_pdf"]["revisions"][-1]["sha256"]
            assert files[version["signed_pdf"]["path"]] == blobs.get(latest)
    assert signed_pdfs
    for entry in manifest["files"]:
        assert hashlib.sha256(files[entry["path"]]).hexdigest() == entry["sha256"], entry["path"]
        assert len(files[entry["path"]]) == entry["size"]


@pytest.mark.req("11.10(b)")
def test_the_renditions_print_each_signature_as_a_fresh_verification_of_its_version_shows_it(app, signed_case):
    services = app.extensions["edms"]
    with services.sessions() as session:
        trust = presentation.current_trust(session, services.settings)
        for document_id in signed_case.documents:
            document = session.get(Document, document_id)
            doc_type = services.document_types[document.type_key]
            timeline = document_timeline(session, document, trust, services.document_types)
            shown = {item.signature_id: item for item in timeline.signatures}
            for version in document.versions:
                fresh = presentation.rendition_signatures(session, version, trust, doc_type, "Asia/Tokyo")
                assert fresh, "every version of the signed case is signed or refused"
                from_history = presentation.as_rendition_signatures(
                    [shown[item.signature_id] for item in fresh], "Asia/Tokyo")
                assert from_history == fresh


@pytest.mark.parametrize("enabled", [True, False])
def test_an_export_leaves_the_garbage_collector_as_it_found_it(app, signed_case, enabled):
    document_id = signed_case.documents[0]
    language, zone = site_locale(app, document_id)
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        export_bytes(app, Scope(DOCUMENT, document_id), language=language, zone=zone)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
