"""The signed PDF of each version: frozen at submission as PDF/A-2b with a signature page, each signature of
the version a PAdES signature in it (B-LT after each, B-LTA at the final state), checked by pyHanko's AdES
validation and by poppler's pdfsig, and tampering reported by both (and by pyHanko's modification analysis)."""
from __future__ import annotations

import io
import json
import re
import shutil
import subprocess

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from sqlalchemy import select

from edms.crypto.pades import signature_fields
from edms.crypto.pades_validation import DOCUMENT_TIMESTAMP, SIGNATURE, validate_signed_pdf
from edms.db import transaction
from edms.documents import models as dm
from edms.documents.pdf_models import FROZEN, SignedPdfRevision
from edms.documents.pdf_queries import pdf_revisions, signed_pdf
from edms.pki import PkiStore
from edms.pki.store import ROOT
from edms.signatures.manifest import parse_manifest
from edms.signatures.models import Signature

PDFSIG = shutil.which("pdfsig")
needs_pdfsig = pytest.mark.skipif(PDFSIG is None, reason="poppler-utils (pdfsig) is not installed: scripts/setup.sh installs it")


def _root(app):
    return PkiStore.for_settings(app.extensions["edms"].settings).certificate(ROOT)


def _versions(app, signed_case):
    """(version, its signatures, its signed PDF) for every submitted version of the signed case."""
    services = app.extensions["edms"]
    with transaction(services.sessions) as session:
        found = []
        for document_id in signed_case.documents:
            for version in session.get(dm.Document, document_id).versions:
                signatures = session.scalars(select(Signature).where(Signature.version_id == version.id)
                                             .order_by(Signature.id)).all()
                found.append((version.status, list(signatures), signed_pdf(session, services.blobs, version),
                              pdf_revisions(session, version)))
        return found


def _pdfsig(path) -> str:
    result = subprocess.run([PDFSIG, "-nocert", str(path)], capture_output=True, text=True, timeout=120)
    return result.stdout


@pytest.mark.req("ERES-e-signature")
@pytest.mark.req("ERES-preservation")
@pytest.mark.req("11.70")
def test_every_signature_of_a_version_is_a_pades_signature_that_pyhanko_validates_as_passed(app, signed_case):
    root = _root(app)
    for status, signatures, pdf, revisions in _versions(app, signed_case):
        assert pdf is not None and revisions[0].kind == FROZEN
        checks = validate_signed_pdf(pdf, [root])
        pades = [check for check in checks if check.kind == SIGNATURE]
        assert len(pades) == len(signatures), status
        for check, signature in zip(pades, signatures, strict=True):
            assert check.intact and check.trusted, check.summary
            assert check.timestamp is not None, "B-T: a signature time-stamp from the organisation's TSA"
            assert check.ltv, "AdES validation with the PDF's own long-term data: PASSED"
            assert check.modifications_ok, check.summary
            manifest = parse_manifest(signature.manifest)
            assert manifest.pdf_sha256 == revisions[0].sha256, "the detached signature covers the frozen PDF too"
        stamps = [check for check in checks if check.kind == DOCUMENT_TIMESTAMP]
        assert len(stamps) == 1 and stamps[0].ok, "B-LTA: the final state is sealed by a document time-stamp"
        assert status in (dm.APPROVED, dm.REJECTED, dm.SUPERSEDED)


@pytest.mark.req("ERES-preservation")
def test_the_signed_pdf_is_only_appended_to_and_each_revision_is_recorded_with_its_length_and_hash(app, signed_case):
    import hashlib

    for _status, signatures, pdf, revisions in _versions(app, signed_case):
        assert [r.revision for r in revisions] == list(range(len(revisions)))
        for revision in revisions:
            assert hashlib.sha256(pdf[:revision.length]).hexdigest() == revision.sha256
        assert revisions[-1].length == len(pdf)
        signed_ids = [r.signature_id for r in revisions if r.kind == "signature"]
        assert signed_ids == [s.signature_id for s in signatures], "in signing order"


def test_the_frozen_pdf_is_pdf_a_2b_with_one_empty_field_per_step_and_a_new_field_for_a_refusal(app, signed_case):
    services = app.extensions["edms"]
    refused = None
    for status, _signatures, pdf, revisions in _versions(app, signed_case):
        frozen = services.blobs.get(revisions[0].sha256)
        assert b"<pdfaid:part>2</pdfaid:part>" in frozen and b"<pdfaid:conformance>B</pdfaid:conformance>" in frozen
        assert b"/FontFile2" in frozen, "fonts embedded"
        reserved = signature_fields(frozen)
        assert reserved and not any(reserved.values()), "empty fields, one per signature of the routing"
        now = signature_fields(pdf)
        if status == dm.REJECTED:
            refused = now
    assert refused is not None
    assert any(name.startswith("further-") and signed for name, signed in refused.items()), \
        "a refusal has no reserved field: it is signed in a new field on the signature page"


@needs_pdfsig
@pytest.mark.req("ERES-e-signature")
def test_pdfsig_reports_every_cades_signature_valid(app, signed_case, tmp_path):
    for index, (_status, signatures, pdf, _revisions) in enumerate(_versions(app, signed_case)):
        path = tmp_path / f"v{index}.pdf"
        path.write_bytes(pdf)
        output = _pdfsig(path)
        cades = re.findall(r"Signature Type: ETSI\.CAdES\.detached", output)
        assert len(cades) == len(signatures)
        blocks = [block for block in output.split("Signature #")[1:] if "ETSI.CAdES.detached" in block]
        assert all("Signature Validation: Signature is Valid." in block for block in blocks), output


def _first_signed_range_byte(pdf: bytes) -> int:
    """An offset inside the first signature's signed ranges, in the page content (well before the field)."""
    match = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)", pdf)
    assert match
    return int(match.group(2)) // 2


@pytest.mark.req("ERES-e-signature")
def test_a_byte_changed_inside_a_signed_range_makes_pyhanko_and_pdfsig_report_the_signature_invalid(
        app, signed_case, tmp_path):
    _status, _signatures, pdf, _revisions = next(v for v in _versions(app, signed_case) if v[0] == dm.APPROVED)
    offset = _first_signed_range_byte(pdf)
    while pdf[offset:offset + 1] in (b"\n", b"\r", b" "):
        offset += 1
    tampered = pdf[:offset] + bytes([pdf[offset] ^ 0x01]) + pdf[offset + 1:]
    checks = validate_signed_pdf(tampered, [_root(app)])
    assert not all(check.intact for check in checks if check.kind == SIGNATURE)
    if PDFSIG:
        path = tmp_path / "tampered.pdf"
        path.write_bytes(tampered)
        assert "Signature is Invalid" in _pdfsig(path) or "Digest Mismatch" in _pdfsig(path)


@pytest.mark.req("ERES-e-signature")
def test_an_incremental_update_that_changes_the_content_is_reported_by_pyhanko_modification_analysis(app, signed_case):
    _status, _signatures, pdf, _revisions = next(v for v in _versions(app, signed_case) if v[0] == dm.APPROVED)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    stream = generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 72 Td (APPROVED BY NOBODY) Tj ET")
    page["/Contents"] = writer.add_object(stream)
    writer.update_container(page)
    changed = io.BytesIO()
    writer.write(changed)
    checks = validate_signed_pdf(changed.getvalue(), [_root(app)])
    assert all(check.intact for check in checks if check.kind == SIGNATURE), "the signed bytes are untouched"
    assert not any(check.modifications_ok for check in checks if check.kind == SIGNATURE), \
        "but every signature reports the later change to the content"


@pytest.mark.req("ERES-e-signature")
def test_an_incremental_update_that_removes_a_signature_is_reported_by_pyhanko_modification_analysis(app, signed_case):
    _status, signatures, pdf, _revisions = next(v for v in _versions(app, signed_case) if v[0] == dm.APPROVED)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    form = writer.root["/AcroForm"]
    signed = [ref.get_object() for ref in form["/Fields"] if ref.get_object().get("/V") is not None
              and ref.get_object()["/V"].get_object().get("/Type") != "/DocTimeStamp"]
    del signed[-1]["/V"]  # the last signature taken out of its field
    writer.update_container(signed[-1])
    changed = io.BytesIO()
    writer.write(changed)
    checks = validate_signed_pdf(changed.getvalue(), [_root(app)])
    pades = [check for check in checks if check.kind == SIGNATURE]
    assert len(pades) == len(signatures) - 1
    assert not any(check.modifications_ok for check in pades), "the removal is reported"


def test_a_signature_records_the_revisions_in_the_audit_trail(app, signed_case):
    services = app.extensions["edms"]
    with transaction(services.sessions) as session:
        from edms.audit.models import AuditEvent

        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "document.pdf_revision")).all()
        rows = session.scalars(select(SignedPdfRevision)).all()
        assert len(events) == len(rows) > 0
        assert {json.loads(event.changes)["signed_pdf"]["new"]["sha256"] for event in events} == {r.sha256 for r in rows}
