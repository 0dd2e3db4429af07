"""The verifier is standalone: it imports nothing of edms but itself, ships as a deterministic zipapp that
runs with Python and `cryptography` alone, and that zipapp, the `edms-verify` command and the library
judge a corpus of good and tampered packages line for line the same way."""
from __future__ import annotations

import ast
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import edms.verifier
from edms.verifier.bundle import zipapp_bytes
from edms.verifier.package import verify_package
from edms.verifier.report import render
from tests.support.inspection import package_files, rezip

VERIFIER = Path(edms.verifier.__file__).parent
BASE = Path(__file__).resolve().parents[2] / "fixtures" / "packages" / "edms-0.1.0-case-CASE-2026-0001.zip"
EDMS_VERIFY = Path(sys.executable).parent / "edms-verify"
STDLIB = set(sys.stdlib_module_names)


def _flip(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]


def _corpus() -> dict[str, bytes]:
    files = package_files(BASE.read_bytes())
    listing = json.loads(files["manifest.json"])
    signature = listing["documents"][0]["versions"][0]["signatures"][0]["dir"]
    events = files["audit/events.jsonl"].splitlines(keepends=True)
    return {
        "good": rezip(files),
        "content changed": rezip({**files, listing["documents"][0]["versions"][0]["content"]: b"{}"}),
        "signature manifest changed": rezip({**files, f"{signature}/manifest.json": _flip(files[f"{signature}/manifest.json"])}),
        "time-stamp damaged": rezip({**files, f"{signature}/timestamp.tsr": _flip(files[f"{signature}/timestamp.tsr"])}),
        "audit event removed": rezip({**files, "audit/events.jsonl": b"".join(events[:3] + events[4:])}),
        "seal removed": rezip({path: data for path, data in files.items() if path != "manifest.json.p7s"}),
        "not a ZIP": b"PK\x03\x04 broken",
        "no manifest": rezip({"report.html": b"<p>hello</p>"}),
    }


CORPUS = _corpus()


def test_the_verifier_imports_only_the_standard_library_cryptography_and_itself():
    for path in sorted(VERIFIER.glob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            for name in names:
                top = name.split(".")[0]
                assert top in STDLIB or top == "cryptography" or name.startswith("edms.verifier"), f"{path.name}: {name}"


def test_the_zipapp_is_deterministic_and_holds_only_the_verifier():
    first, second = zipapp_bytes(), zipapp_bytes()
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        names = archive.namelist()
        assert names == sorted(names)
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert set(names) == {"__main__.py", "edms/__init__.py",
                          *(f"edms/verifier/{path.name}" for path in VERIFIER.glob("*.py"))}


def _run(command: list[str], package: Path) -> tuple[int, list[str]]:
    result = subprocess.run([*command, str(package)], capture_output=True, text=True, timeout=300,
                            env={"PATH": "/usr/bin:/bin"}, cwd=package.parent)
    assert not result.stderr, result.stderr
    return result.returncode, result.stdout.splitlines()


@pytest.mark.req("A11-17")
@pytest.mark.req("ERES-preservation")
@pytest.mark.parametrize("name", list(CORPUS))
def test_the_zipapp_the_command_and_the_library_judge_every_package_alike(name, tmp_path):
    package = tmp_path / "package.zip"
    package.write_bytes(CORPUS[name])
    zipapp = tmp_path / "edms_verify.pyz"
    zipapp.write_bytes(zipapp_bytes())
    report = verify_package(io.BytesIO(CORPUS[name]))
    expected = list(render(report))
    status = 0 if report.ok else 2 if [item.name for item in report.items] == ["package"] else 1
    assert (status == 0) == (name == "good"), expected
    # -I: the zipapp finds nothing of an installed edms, only itself and cryptography.
    assert _run([sys.executable, "-I", str(zipapp)], package) == (status, expected)
    assert _run([str(EDMS_VERIFY)], package) == (status, expected)
