"""VERIFY.md and the report say the verifier comes from a trusted source, not from the package it checks, and
state the SHA-256 of the copy the package carries so that the recipient can compare it (ERES-authenticity)."""
from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from pypdf import PdfReader

from tests.support.inspection import inspector, inspector_client  # noqa: F401


@pytest.mark.req("ERES-authenticity")
@pytest.mark.req("11.10(b)")
def test_the_package_names_a_trusted_verifier_and_the_hash_of_its_copy(app, signed_case, inspector_client):  # noqa: F811
    response = inspector_client.get(f"/inspection/cases/{signed_case.case_id}/export")
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        verify_md = archive.read("VERIFY.md").decode("utf-8")
        digest = hashlib.sha256(archive.read("edms_verify.pyz")).hexdigest()
        html = archive.read("report.html").decode("utf-8")
        pdf = "".join(page.extract_text() for page in PdfReader(io.BytesIO(archive.read("report.pdf"))).pages)
    assert "Take the verifier from a trusted source, never from the package it checks" in verify_md
    assert f"its SHA-256 is `{digest}`" in verify_md
    assert f'<code id="verifier-sha256">{digest}</code>' in html
    assert digest in pdf.replace("\n", "")
