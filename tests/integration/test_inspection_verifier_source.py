"""VERIFY.md and the report say the verifier comes from a trusted source, not from the package it checks, and
state the SHA-256 of the copy the package carries so that the recipient can compare it (ERES-authenticity)."""
from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest
from pypdf import PdfReader

from edms.verifier.package import verify_package
from tests.conftest import csrf_token
from tests.support.inspection import exported_package, inspector, inspector_client  # noqa: F401


@pytest.mark.req("ERES-authenticity")
@pytest.mark.req("11.10(b)")
def test_the_package_names_a_trusted_verifier_and_the_hash_of_its_copy(app, signed_case, inspector_client):  # noqa: F811
    response = _export(inspector_client, signed_case)
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


@pytest.mark.req("WITNESS")
@pytest.mark.req("ERES-authenticity")
def test_the_package_carries_merkle_proofs_that_the_offline_verifier_checks(app, signed_case, inspector_client):  # noqa: F811
    response = _export(inspector_client, signed_case)
    assert response.status_code == 200
    report = verify_package(io.BytesIO(response.data))
    assert report.ok, [item.line() for item in report.failures]
    names = {item.name: item for item in report.items}
    assert names["audit tree head"].ok
    assert names["audit events in the witnessed tree"].detail.startswith("all ")
    assert names["audit tree consistency"].ok
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        tree = json.loads(archive.read("audit/tree.json"))
    assert manifest["audit"]["tree"] == "audit/tree.json"
    # A tree head whose root was changed no longer carries the system signature.
    tree["head"]["root_hash"] = "00" * 32
    from edms.verifier.contents import Package
    from edms.verifier.package_tree import check_tree
    from edms.verifier.report import Report

    files = {"audit/tree.json": json.dumps(tree).encode()}
    forged = Report()
    trust = _trust(response.data)
    check_tree(forged, Package(files, {"audit": {"tree": "audit/tree.json"}}), trust, {})
    assert not forged.ok and any(item.name == "audit tree head" and not item.ok for item in forged.items)


def _trust(data):
    from cryptography import x509

    from edms.verifier.contents import Trust

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        load = lambda role: x509.load_pem_x509_certificate(archive.read(manifest["pki"][role]))  # noqa: E731
        return Trust(load("root"), load("system"), [load("signing_ca")], [])


def _export(inspector_client, signed_case):
    timeline = inspector_client.get(f"/inspection/cases/{signed_case.case_id}").get_data(as_text=True)
    return exported_package(inspector_client, f"/inspection/cases/{signed_case.case_id}/export",
                            {"csrf_token": csrf_token(timeline)})
