"""`edms-verify` on a package kept from an earlier version: it still verifies (EU Annex 11 §17), and one
changed byte in any file, a dropped file, an added file or two swapped signatures fail and are named
(21 CFR 11.10(a), 11.70; ER/ES e-signature). No database and no server: only the package."""
from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from edms.crypto.pki import bootstrap_pki
from edms.timeutil import utc_now
from edms.verifier.package import verify_package
from tests.support.inspection import package_files, rezip

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "packages"
PACKAGES = sorted(FIXTURES.glob("*.zip"))
BASE = FIXTURES / "edms-0.1.0-case-CASE-2026-0001.zip"
EDMS_VERIFY = Path(sys.executable).parent / "edms-verify"
SEAL = ("manifest.json", "manifest.json.p7s", "manifest.json.sigvalue.bin", "manifest.json.tsr")


def original() -> dict[str, bytes]:
    return package_files(BASE.read_bytes())


def manifest(files: dict[str, bytes]) -> dict:
    return json.loads(files["manifest.json"])


def verdict(files: dict[str, bytes]) -> tuple[bool, list[str]]:
    report = verify_package(io.BytesIO(rezip(files)))
    return report.ok, [item.line() for item in report.failures]


def flip(data: bytes, position: int | None = None) -> bytes:
    position = len(data) // 2 if position is None else position
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1:]


def relist(files: dict[str, bytes]) -> dict[str, bytes]:
    """manifest.json listing the files' current hashes (the seal no longer matches: no key was used)."""
    listing = manifest(files)
    for entry in listing["files"]:
        entry["sha256"] = hashlib.sha256(files[entry["path"]]).hexdigest()
        entry["size"] = len(files[entry["path"]])
    return {**files, "manifest.json": json.dumps(listing, indent=2, sort_keys=True).encode()}


def signatures(files: dict[str, bytes]) -> list[dict]:
    return [s for d in manifest(files)["documents"] for v in d["versions"] for s in v["signatures"]]


@pytest.mark.req("A11-17")
@pytest.mark.req("ERES-preservation")
@pytest.mark.parametrize("package", PACKAGES, ids=[path.name for path in PACKAGES])
def test_packages_exported_by_earlier_versions_still_verify(package):
    result = subprocess.run([str(EDMS_VERIFY), str(package)], capture_output=True, text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("RESULT: PASS")
    assert "FAIL" not in result.stdout


def test_the_fixture_holds_what_its_readme_says():
    files = original()
    listing = manifest(files)
    assert listing["format"] == 1 and listing["app_version"].startswith("0.1.0")
    assert [d["number"] for d in listing["documents"]] == ["OOS-2026-0001", "REL-2026-0001"]
    assert len(signatures(files)) == 9
    assert set(SEAL) | {entry["path"] for entry in listing["files"]} == set(files)


@pytest.mark.req("11.10(a)")
@pytest.mark.req("ERES-e-signature")
@pytest.mark.parametrize("path", sorted(set(original()) - set(SEAL[1:])))
def test_one_changed_byte_in_any_file_fails_and_names_the_file(path):
    files = original()
    ok, failures = verdict({**files, path: flip(files[path])})
    assert not ok
    if path == "manifest.json":
        assert any(line.startswith("FAIL  manifest.json") for line in failures), failures
    else:
        assert any(line.startswith(f"FAIL  file {path}: SHA-256") for line in failures), failures


@pytest.mark.req("11.10(a)")
@pytest.mark.parametrize("path", SEAL[1:])
def test_a_changed_seal_fails(path):
    files = original()
    ok, failures = verdict({**files, path: flip(files[path], len(files[path]) - 3)})
    assert not ok and any(line.startswith("FAIL  manifest.json seal") for line in failures), failures


KINDS = {
    # what is changed -> the item that must fail besides the file's own hash
    "content": (lambda s, v: v["content"], "content {number} v{version}"),
    "signature manifest": (lambda s, v: f"{s['dir']}/manifest.json", "signature {signature_id}"),
    "CMS signature": (lambda s, v: f"{s['dir']}/signature.p7s", "signature {signature_id}"),
    "time-stamp": (lambda s, v: f"{s['dir']}/timestamp.tsr", "signature {signature_id}"),
    "attachment": (lambda s, v: v["attachments"][0]["path"], "content {number} v{version}"),
}


@pytest.mark.req("11.70")
@pytest.mark.req("11.10(a)")
@pytest.mark.parametrize("kind", KINDS)
def test_a_change_re_listed_in_manifest_json_is_still_caught_by_what_it_breaks(kind):
    """Someone rewrites manifest.json to match the changed file (but cannot re-seal it): the signature,
    content or attachment check that the file feeds fails and names the record."""
    files = original()
    document = manifest(files)["documents"][0]
    version = document["versions"][1]
    signature = version["signatures"][0]
    locate, item = KINDS[kind]
    path = locate(signature, version)
    data = files[path]
    in_text = kind in ("content", "signature manifest")
    changed = data.replace(b"L2026-0412", b"L2026-0413") if in_text else flip(data, len(data) - 5)
    assert changed != data
    ok, failures = verdict(relist({**files, path: changed}))
    name = item.format(number=document["number"], version=version["version"], signature_id=signature["signature_id"])
    assert not ok
    assert any(line.startswith(f"FAIL  {name}") for line in failures), failures
    assert any(line.startswith("FAIL  manifest.json seal") for line in failures)


@pytest.mark.req("11.10(a)")
def test_a_changed_audit_event_breaks_the_chain_at_that_event():
    files = original()
    lines = files["audit/events.jsonl"].split(b"\n")
    lines[3] = lines[3].replace(b'"actor_name":"', b'"actor_name":"X')
    ok, failures = verdict(relist({**files, "audit/events.jsonl": b"\n".join(lines)}))
    assert not ok
    seq = json.loads(lines[3])["seq"]
    assert any(line.startswith("FAIL  audit chain") and f"seq {seq + 1}: previous-hash link broken" in line
               for line in failures), failures


@pytest.mark.req("11.10(a)")
def test_a_dropped_file_fails_and_is_named():
    files = original()
    dropped = f"{signatures(files)[0]['dir']}/timestamp.tsr"
    ok, failures = verdict({path: data for path, data in files.items() if path != dropped})
    assert not ok
    assert f"FAIL  file {dropped}: listed in manifest.json but missing from the package" in failures
    assert any(line.startswith(f"FAIL  signature {signatures(files)[0]['signature_id']}") for line in failures)


@pytest.mark.req("11.10(a)")
def test_an_added_file_fails_and_is_named():
    files = original()
    ok, failures = verdict({**files, "documents/OOS-2026-0001/v2/attachments/extra.pdf": b"%PDF-1.4 added later"})
    assert not ok
    assert failures == ["FAIL  file documents/OOS-2026-0001/v2/attachments/extra.pdf: in the package but not listed "
                        "in manifest.json (added)"]


@pytest.mark.req("11.70")
@pytest.mark.req("ERES-e-signature")
def test_two_swapped_signatures_fail_and_both_are_named():
    files = original()
    first, second = manifest(files)["documents"][0]["versions"][1]["signatures"][:2]
    swapped = dict(files)
    for name in ("manifest.json", "signature.p7s", "timestamp.tsr", "sigvalue.bin", "signer.pem"):
        swapped[f"{first['dir']}/{name}"] = files[f"{second['dir']}/{name}"]
        swapped[f"{second['dir']}/{name}"] = files[f"{first['dir']}/{name}"]
    for candidate in (swapped, relist(swapped)):
        ok, failures = verdict(candidate)
        assert not ok
        for signature in (first, second):
            assert any(line.startswith(f"FAIL  signature {signature['signature_id']} ") and "swapped" in line
                       for line in failures), failures


def test_a_package_chaining_to_another_root_fails_when_the_root_is_pinned(tmp_path):
    other = bootstrap_pki("Someone Else K.K.", utc_now())
    root = tmp_path / "root.pem"
    root.write_bytes(other.root_cert.public_bytes(Encoding.PEM))
    result = subprocess.run([str(EDMS_VERIFY), str(BASE), "--root", str(root)], capture_output=True, text=True,
                            timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 1
    assert "FAIL  certificates: the package's root CA is not the root CA you gave" in result.stdout
    own = tmp_path / "own.pem"
    own.write_bytes(original()["pki/root-ca.pem"])
    assert subprocess.run([str(EDMS_VERIFY), str(BASE), "--root", str(own)], capture_output=True,
                          env={"PATH": "/usr/bin:/bin"}).returncode == 0


def test_what_is_not_a_package_is_refused_with_its_own_status(tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip at all")
    result = subprocess.run([str(EDMS_VERIFY), str(junk)], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 2 and "FAIL  package: cannot be read" in result.stdout
    ok, failures = verdict({"readme.txt": b"hello"})
    assert not ok and failures == ["FAIL  manifest.json: missing: this is not an edms inspection package"]
