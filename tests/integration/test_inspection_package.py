"""The inspection package: exported from the page, the API and the console; it proves itself offline with
`edms-verify` and with the openssl commands of its own VERIFY.md, and an insider who holds the system key
still cannot change a signed record in it unnoticed."""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import zipfile

import pytest
from pypdf import PdfReader

from edms.crypto.cms import signature_value
from edms.inspection.package import EXPORTED_ACTION
from edms.pki import PkiStore
from edms.verifier.package import verify_package
from tests.conftest import csrf_token
from tests.support.documents import Api
from tests.support.inspection import (  # noqa: F401
    INSPECTOR,
    api_exported_package,
    events,
    exported_package,
    inspector,
    inspector_client,
    package_files,
    rezip,
    run_verifier,
)


def commands(verify_md: str, language: str) -> list[str]:
    blocks = re.findall(rf"```{language}\n(.*?)```", verify_md, re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


@pytest.mark.req("11.10(b)")
@pytest.mark.req("11.30")
@pytest.mark.req("ERES-e-signature")
@pytest.mark.req("ERES-preservation")
def test_case_package_verifies_with_edms_verify_and_with_openssl_alone(app, signed_case, inspector_client, tmp_path):
    timeline = inspector_client.get(f"/inspection/cases/{signed_case.case_id}").get_data(as_text=True)
    response = exported_package(inspector_client, f"/inspection/cases/{signed_case.case_id}/export",
                                {"csrf_token": csrf_token(timeline)})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.headers["X-Content-SHA256"] == hashlib.sha256(response.data).hexdigest()
    package = tmp_path / "package.zip"
    package.write_bytes(response.data)

    result = run_verifier(package)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("RESULT: PASS")
    for signature_id in signed_case.signatures:
        assert re.search(rf"^PASS  signature {signature_id} ", result.stdout, re.M), signature_id

    extracted = tmp_path / "extracted"
    with zipfile.ZipFile(package) as archive:
        archive.extractall(extracted)
    verify_md = (extracted / "VERIFY.md").read_text("utf-8")
    shell = commands(verify_md, "sh")
    assert sum("openssl cms -verify" in line for line in shell) == len(signed_case.signatures) + 2  # + seal, checkpoint
    assert sum("openssl ts -verify" in line for line in shell) == len(signed_case.signatures) + 2
    for line in shell:
        run = subprocess.run(["bash", "-c", line], cwd=extracted, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, f"{line}\n{run.stdout}{run.stderr}"
        assert "FAILED" not in run.stdout and "error" not in run.stderr.lower(), line
    (extracted / "SHA256SUMS").write_text("\n".join(commands(verify_md, "text")) + "\n")
    sums = subprocess.run(["sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=extracted, capture_output=True, text=True)
    assert sums.returncode == 0, sums.stdout + sums.stderr
    # The audit loop of VERIFY.md, run with openssl: each line's hash is the next line's prev_hash.
    loop = next(line for line in shell if line.startswith("while "))
    hashes = subprocess.run(["bash", "-c", loop], cwd=extracted, capture_output=True, text=True).stdout.split()[::2]
    lines = (extracted / "audit/events.jsonl").read_bytes().splitlines()
    assert hashes == [hashlib.sha256(line).hexdigest() for line in lines]
    links = [json.loads(line)["prev_hash"] for line in lines]
    seqs = [json.loads(line)["seq"] for line in lines]
    assert all(links[i + 1] == hashes[i] for i in range(len(lines) - 1) if seqs[i + 1] == seqs[i] + 1)

    manifest = json.loads((extracted / "manifest.json").read_text("utf-8"))
    assert [document["number"] for document in manifest["documents"]] == list(signed_case.numbers.values())
    assert sum(len(v["signatures"]) for d in manifest["documents"] for v in d["versions"]) == len(signed_case.signatures)
    for path in ("report.html", "report.pdf", "edms_verify.pyz", "pki/signing-ca.crl.pem"):
        assert any(entry["path"] == path for entry in manifest["files"]), path
    assert "Refused to sign" in (extracted / "report.html").read_text("utf-8")
    (exported,) = events(app, EXPORTED_ACTION)
    assert exported.object_type == "case" and exported.object_id == str(signed_case.case_id)
    assert exported.actor_name == INSPECTOR[1] and manifest["audit"]["export_event_seq"] == exported.seq
    (downloaded,) = events(app, "inspection.downloaded")
    assert json.loads(downloaded.changes)["file"]["new"]["sha256"] == hashlib.sha256(response.data).hexdigest()


@pytest.mark.req("11.10(b)")
@pytest.mark.req("ERES-preservation")
def test_document_package_from_the_api_and_the_console(app, client, signed_case, inspector, settings, tmp_path):
    document_id = signed_case.documents[0]
    api = Api(client, INSPECTOR[0])
    response = api_exported_package(api, f"/documents/{document_id}/export?language=ja")
    assert response.status_code == 200
    report = verify_package(io.BytesIO(response.data))
    assert report.ok, [item.line() for item in report.failures]
    files = package_files(response.data)
    manifest = json.loads(files["manifest.json"])
    assert [document["id"] for document in manifest["documents"]] == [document_id] and manifest["language"] == "ja"
    # Every character of the Japanese rendition is drawn: none is replaced by its code point.
    version = manifest["documents"][0]["versions"][-1]
    printed = "".join(page.extract_text() for page in PdfReader(io.BytesIO(files[version["renditions"]["pdf"]])).pages)
    assert "文書番号" in printed and "品質保証部門" in printed and "[U+" not in printed
    assert api.post("/documents/999999/export").status_code == 404
    assert api.post(f"/documents/{document_id}/export?language=fr").status_code == 400

    output = tmp_path / "console.zip"
    env = {**os.environ, "EDMS_ENV": "testing", "EDMS_DATABASE_URL": settings.database_url,
           "EDMS_DATA_DIR": str(settings.data_dir)}
    console = subprocess.run([sys.executable, "-m", "edms.cli", "export", "--document", str(document_id), "-o",
                              str(output), "--timezone", "Asia/Tokyo"], env=env, capture_output=True, text=True,
                             timeout=300)
    assert console.returncode == 0, console.stderr
    assert hashlib.sha256(output.read_bytes()).hexdigest() in console.stdout
    assert run_verifier(output).returncode == 0
    both = subprocess.run([sys.executable, "-m", "edms.cli", "export", "--document", "1", "--case", "1", "-o",
                           str(tmp_path / "x.zip")], env=env, capture_output=True, text=True, timeout=120)
    assert both.returncode != 0 and "exactly one" in both.stderr
    assert [event.actor_name for event in events(app, EXPORTED_ACTION)] == [INSPECTOR[1], "edms export (console)"]


def reseal(files: dict[str, bytes], pki: PkiStore) -> dict[str, bytes]:
    """What an insider holding the system key could do: list the new hashes and sign manifest.json again."""
    manifest = json.loads(files["manifest.json"])
    for entry in manifest["files"]:
        entry["sha256"] = hashlib.sha256(files[entry["path"]]).hexdigest()
        entry["size"] = len(files[entry["path"]])
    data = json.dumps(manifest, indent=2, sort_keys=True).encode()
    signer = pki.system_signer()
    cms = signer.sign(data)
    value = signature_value(cms)
    return {**files, "manifest.json": data, "manifest.json.p7s": cms, "manifest.json.sigvalue.bin": value,
            "manifest.json.tsr": signer.timestamp(hashlib.sha256(value).digest())}


@pytest.mark.req("11.70")
@pytest.mark.req("11.10(a)")
@pytest.mark.req("ERES-e-signature")
def test_an_insider_with_the_system_key_still_cannot_change_a_signed_record(app, client, signed_case, inspector,
                                                                             organisation_pki, tmp_path):
    document_id = signed_case.documents[0]
    original = package_files(api_exported_package(Api(client, INSPECTOR[0]), f"/documents/{document_id}/export").data)
    manifest = json.loads(original["manifest.json"])
    version = manifest["documents"][0]["versions"][1]
    content = json.loads(original[version["content"]])
    content["fields"]["result"] = "82.0"  # the OOS result made to look conforming
    changed = {**original, version["content"]: json.dumps(content, sort_keys=True, separators=(",", ":")).encode()}
    forged = tmp_path / "forged.zip"
    forged.write_bytes(rezip(reseal(changed, organisation_pki)))
    result = run_verifier(forged)
    assert result.returncode == 1
    failures = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    number = manifest["documents"][0]["number"]
    assert any(line.startswith(f"FAIL  content {number} v2:") and "changed" in line for line in failures)
    for signature in version["signatures"]:
        assert any(line.startswith(f"FAIL  signature {signature['signature_id']} ") for line in failures)
    assert not any("seal" in line or line.startswith("FAIL  file ") for line in failures)  # the seal itself is valid

    # Dropping the refusal of version 1 from the package (and re-sealing) is caught by the audit trail.
    refused = manifest["documents"][0]["versions"][0]["signatures"][1]
    trimmed = {path: data for path, data in original.items() if not path.startswith(refused["dir"] + "/")}
    listing = json.loads(trimmed["manifest.json"])
    listing["files"] = [entry for entry in listing["files"] if entry["path"] in trimmed]
    listing["documents"][0]["versions"][0]["signatures"].pop(1)
    trimmed["manifest.json"] = json.dumps(listing).encode()
    forged.write_bytes(rezip(reseal(trimmed, organisation_pki)))
    result = run_verifier(forged)
    assert result.returncode == 1
    assert f"FAIL  signature {refused['signature_id']}: recorded in the audit trail" in result.stdout


@pytest.mark.req("11.10(e)")
def test_a_package_is_exported_by_post_only_and_a_get_writes_nothing(app, signed_case, inspector, inspector_client):
    from sqlalchemy import func, select

    from edms.audit.models import AuditCheckpoint

    def written():
        with app.extensions["edms"].sessions() as session:
            return (len(events(app, EXPORTED_ACTION)),
                    session.scalar(select(func.count()).select_from(AuditCheckpoint)))

    before = written()
    document_id = signed_case.documents[0]
    assert inspector_client.get(f"/inspection/cases/{signed_case.case_id}/export").status_code == 405
    api = Api(app.test_client(), INSPECTOR[0])
    assert api.get(f"/documents/{document_id}/export").status_code == 405
    assert written() == before
    assert api_exported_package(api, f"/documents/{document_id}/export").status_code == 200
    exported, checkpoints = written()
    assert exported == before[0] + 1 and checkpoints >= before[1]
