"""The inspection package carries each signature's archive time-stamps (evidence.ers, RFC 4998) and
`edms-verify` checks them with `cryptography` alone, at today's date or at a moment of judgement (--at)."""
from __future__ import annotations

import io
import re
import subprocess
import zipfile
from datetime import UTC, datetime

import pytest

from edms.application import archiving, inspection
from edms.application.unit_of_work import command
from edms.audit import AuditContext
from edms.inspection.package import CASE, Scope
from edms.verifier.package import verify_package
from tests.support.inspection import package_files, rezip, run_verifier


def export(app, signed_case) -> bytes:
    services = app.extensions["edms"]
    out = io.BytesIO()
    with command(services.sessions) as session:
        inspection.export(services, session, AuditContext.system("edms export (test)"), Scope(CASE, signed_case.case_id),
                          out, language="en", display_tz="Asia/Tokyo")
    return out.getvalue()


@pytest.fixture
def archived(app, signed_case):
    services = app.extensions["edms"]
    archiving.archive_timestamps(services, None, AuditContext.system("archive (test)"))
    return export(app, signed_case)


def lines(report) -> dict[str, tuple[bool, str]]:
    return {item.name: (item.ok, item.detail) for item in report.items}


@pytest.mark.req("LTV")
def test_the_package_carries_each_signatures_evidence_record_and_edms_verify_passes_it(archived, signed_case, tmp_path):
    files = package_files(archived)
    evidence = [name for name in files if name.endswith("/evidence.ers")]
    assert len(evidence) == len(signed_case.signatures)

    report = verify_package(io.BytesIO(archived))
    assert report.ok
    details = [detail for name, (_, detail) in lines(report).items() if name.startswith("signature ")]
    assert len(details) == len(signed_case.signatures)
    assert all("1 archive time-stamp(s) (RFC 4998 evidence.ers) valid" in detail for detail in details)

    package = tmp_path / "package.zip"
    package.write_bytes(archived)
    result = run_verifier(package, "--at", "2035-06-01")
    assert result.returncode == 0, result.stdout
    later = run_verifier(package, "--at", "2056-12-07")
    assert later.returncode == 1
    assert re.search(r"^FAIL  signature .*long-term validation on 2056-12-07 00:00:00 UTC: archive time-stamp 1 "
                     r"can no longer be trusted", later.stdout, re.M), later.stdout


@pytest.mark.req("LTV")
def test_a_changed_evidence_record_fails_the_signature(archived):
    files = package_files(archived)
    name = next(name for name in files if name.endswith("/evidence.ers"))
    changed = bytearray(files[name])
    changed[len(changed) // 2] ^= 0x01
    files[name] = bytes(changed)

    report = verify_package(io.BytesIO(rezip(files)))
    signature = name.split("/signatures/")[1].split("/")[0]
    [(ok, detail)] = [value for key, value in lines(report).items() if key.startswith(f"signature {signature}")]
    assert not ok and "long-term validation today" in detail


@pytest.mark.req("LTV")
def test_without_archive_timestamps_a_package_passes_at_the_stamped_moments_and_fails_when_judged_in_2056(
        app, signed_case):
    data = export(app, signed_case)
    report = verify_package(io.BytesIO(data))
    in_2056 = verify_package(io.BytesIO(data), judged_at=datetime(2056, 12, 7, tzinfo=UTC))

    assert report.ok
    assert all("no archive time-stamp yet" in detail for name, (_, detail) in lines(report).items()
               if name.startswith("signature "))
    signatures = {name: value for name, value in lines(in_2056).items() if name.startswith("signature ")}
    assert len(signatures) == len(signed_case.signatures)
    assert all(not ok and "long-term validation on 2056-12-07 00:00:00 UTC: the signature's time-stamp can no "
               "longer be trusted" in detail for ok, detail in signatures.values())


@pytest.mark.req("LTV")
def test_after_a_root_rollover_the_package_of_earlier_signatures_still_verifies(app, signed_case, tmp_path):
    from edms.pki.lifecycle import rollover_root
    from edms.pki.store import PkiStore

    services = app.extensions["edms"]
    rollover_root(PkiStore.for_settings(services.settings), services.settings.organisation, kdf_iterations=1000)
    archiving.archive_timestamps(services, None, AuditContext.system("archive (test)"))
    data = export(app, signed_case)

    report = verify_package(io.BytesIO(data))
    assert report.ok, [(item.name, item.detail) for item in report.items if not item.ok]
    files = package_files(data)
    assert {"pki/previous-root-1.pem", "pki/previous-signing-ca-1.pem", "pki/roots.pem"} <= set(files)

    # ... and with openssl alone, following its VERIFY.md (every root in pki/roots.pem)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(tmp_path / "extracted")
    verify_md = (tmp_path / "extracted" / "VERIFY.md").read_text("utf-8")
    shell = [line for block in re.findall(r"```sh\n(.*?)```", verify_md, re.S) for line in block.splitlines()
             if line.startswith("openssl ")]
    assert sum("openssl cms -verify" in line for line in shell) == len(signed_case.signatures) + 2
    for line in shell:
        run = subprocess.run(["bash", "-c", line], cwd=tmp_path / "extracted", capture_output=True, text=True,
                             timeout=60)
        assert run.returncode == 0, f"{line}\n{run.stdout}{run.stderr}"
