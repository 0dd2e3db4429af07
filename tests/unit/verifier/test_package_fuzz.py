"""The offline verifier never raises, whatever it is given: a malformed package is a FAIL line naming what
is wrong. Fuzzed with Hypothesis from an exported package; EDMS_HYPOTHESIS_PROFILE=long runs longer."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edms.verifier.package import verify_package
from edms.verifier.report import render
from tests.support.inspection import package_files, rezip

settings.register_profile("ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PROFILE = settings.get_profile(os.environ.get("EDMS_HYPOTHESIS_PROFILE", "ci"))

BASE = Path(__file__).resolve().parents[2] / "fixtures" / "packages" / "edms-0.1.0-case-CASE-2026-0001.zip"
FILES = package_files(BASE.read_bytes())
SEAL = ("manifest.json", "manifest.json.p7s", "manifest.json.sigvalue.bin", "manifest.json.tsr")
# The files whose parsing is most hostile: DER, PEM, JSON and the events file.
PARSED = sorted(path for path in FILES if path.endswith((".p7s", ".tsr", ".tst", ".pem", ".bin", ".json", ".jsonl")))
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                    max_leaves=20)


def judge(data: bytes):
    report = verify_package(io.BytesIO(data))
    lines = list(render(report))  # printing must not fail either
    return report, lines


@settings(PROFILE)
@given(st.binary(max_size=4096))
def test_any_bytes_as_a_package_give_a_fail_line_never_an_exception(data):
    report, lines = judge(data)
    assert not report.ok and lines[-1].startswith("RESULT: FAIL")


@settings(PROFILE)
@given(path=st.sampled_from(PARSED), data=st.data())
def test_a_damaged_file_is_a_fail_line_naming_it(path, data):
    original = FILES[path]
    how = data.draw(st.sampled_from(["truncate", "flip", "replace"]))
    if how == "truncate":
        damaged = original[:data.draw(st.integers(0, max(len(original) - 1, 0)))]
    elif how == "flip":
        position = data.draw(st.integers(0, len(original) - 1))
        damaged = original[:position] + bytes([original[position] ^ data.draw(st.integers(1, 255))]) + original[position + 1:]
    else:
        damaged = data.draw(st.binary(max_size=512).filter(lambda value: value != original))
    report, _lines = judge(rezip({**FILES, path: damaged}))
    if path in SEAL[1:]:
        # The seal's own files are not listed in manifest.json: what is not signed in a CMS structure (its
        # version, unsigned fields) may change unnoticed, as with openssl; the verifier must still not raise.
        return
    assert not report.ok
    failures = [item.line() for item in report.failures]
    assert any(path in line for line in failures), failures


@pytest.mark.parametrize("path", SEAL[1:])
def test_a_seal_file_replaced_by_another_structure_fails_the_seal(path):
    for damaged in (b"", b"\x31\x00", b"\x30\x03\x02\x01\x05", FILES[path][:-1]):
        report, _lines = judge(rezip({**FILES, path: damaged}))
        assert any(item.name == "manifest.json seal" for item in report.failures), path


@settings(PROFILE)
@given(field=st.sampled_from(["files", "documents", "audit", "pki", "reports"]), value=JSON)
def test_a_manifest_of_the_wrong_shape_is_a_fail_line_never_an_exception(field, value):
    manifest = json.loads(FILES["manifest.json"])
    manifest[field] = value
    report, lines = judge(rezip({**FILES, "manifest.json": json.dumps(manifest).encode()}))
    assert not report.ok and any(line.startswith("FAIL  ") for line in lines)


@pytest.mark.parametrize("events", [b"", b"\n\n", b"{}\n", b"[1,2]\n", b"\xff\xfe\n", b'{"seq":true}\n'])
def test_a_malformed_audit_events_file_is_a_fail_line(events):
    report, _lines = judge(rezip({**FILES, "audit/events.jsonl": events}))
    assert not report.ok
    assert any(item.name.startswith(("audit", "file audit/events.jsonl")) for item in report.failures)
