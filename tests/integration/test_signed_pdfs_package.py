"""The inspection package carries each version's signed PDF; `edms-verify` checks, with `cryptography` alone,
that every revision is as recorded and that each PDF signature's byte range and CMS verify, and says that a
full PDF validation needs pyHanko or pdfsig; VERIFY.md gives those commands."""
from __future__ import annotations

import io
import json
import re

import pytest

from edms.verifier.package import verify_package
from tests.conftest import csrf_token
from tests.support.inspection import (  # noqa: F401
    INSPECTOR,
    exported_package,
    inspector,
    inspector_client,
    package_files,
    rezip,
)


def _export(inspector_client, case_id: int) -> bytes:
    timeline = inspector_client.get(f"/inspection/cases/{case_id}").get_data(as_text=True)
    response = exported_package(inspector_client, f"/inspection/cases/{case_id}/export", {"csrf_token": csrf_token(timeline)})
    assert response.status_code == 200
    return response.data


def _lines(report, prefix: str):
    return [item for item in report.items if item.name.startswith(prefix)]


@pytest.mark.req("ERES-preservation")
@pytest.mark.req("11.10(b)")
def test_the_package_carries_the_signed_pdfs_and_edms_verify_checks_their_revisions_and_signatures(
        app, signed_case, inspector_client):
    data = _export(inspector_client, signed_case.case_id)
    files = package_files(data)
    manifest = json.loads(files["manifest.json"])
    versions = [v for d in manifest["documents"] for v in d["versions"]]
    assert versions and all(v["signed_pdf"]["path"] in files for v in versions)
    report = verify_package(io.BytesIO(data))
    assert report.ok, [item.line() for item in report.failures]
    checked = _lines(report, "signed PDF ")
    assert len(checked) == len(versions)
    for item, version in zip(checked, versions, strict=True):
        assert f"{len(version['signatures'])} PDF signature(s)" in item.detail
        assert "1 document time-stamp(s)" in item.detail
        assert "needs pyHanko or pdfsig" in item.detail
    verify_md = files["VERIFY.md"].decode("utf-8")
    assert "pdfsig -nssdir sql:nssdb" in verify_md and "certutil -A -d sql:nssdb" in verify_md
    assert "Trusted Certificates" in verify_md, "how to trust the root in Acrobat"


@pytest.mark.req("ERES-preservation")
def test_edms_verify_fails_a_signed_pdf_whose_earlier_revision_was_changed(app, signed_case, inspector_client):
    files = package_files(_export(inspector_client, signed_case.case_id))
    manifest = json.loads(files["manifest.json"])
    path = manifest["documents"][0]["versions"][-1]["signed_pdf"]["path"]
    pdf = files[path]
    offset = re.search(rb"/ByteRange\s*\[\s*\d+\s+(\d+)", pdf)
    assert offset
    at = int(offset.group(1)) // 2
    files[path] = pdf[:at] + bytes([pdf[at] ^ 0x20]) + pdf[at + 1:]
    report = verify_package(io.BytesIO(rezip(files)))
    failed = [item for item in report.failures if item.name.startswith("signed PDF ")]
    assert failed and "does not hash to its recorded SHA-256" in failed[0].detail


def test_the_api_gives_each_signature_validation_and_the_signed_pdf_itself(app, signed_case, inspector, client):
    from tests.support.documents import Api

    api = Api(client, INSPECTOR[0])
    document_id = signed_case.documents[0]
    answer = api.get(f"/documents/{document_id}/versions/3/signed-pdf")
    assert answer.status_code == 200, answer.json
    checks = answer.json["signatures"]
    assert checks and all(check["ok"] for check in checks)
    assert [check["kind"] for check in checks][-1] == "document_timestamp"
    assert all(check["ltv"] and check["timestamp"] for check in checks if check["kind"] == "signature")
    pdf = api.get(f"/documents/{document_id}/versions/3/signed.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.headers["X-Content-SHA256"] == answer.json["revisions"][-1]["sha256"]
    assert len(pdf.data) == answer.json["size"]
    assert api.get(f"/documents/{document_id}/versions/9/signed-pdf").status_code == 404
