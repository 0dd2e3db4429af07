"""One stored signature, good or tampered with, judged the same way by every entry point that shows a verdict
(issue #11, "One verifier"; 21 CFR 11.70): the document version page, the API, `edms verify`'s signatures
check, and the offline verifier on an inspection package exported afterwards (in-process and, for the good
case and one bad one, as the `edms_verify.pyz` shipped inside the package, run with `python -I`).

Each case starts from a copy of the session-built signed case and changes ONE signature row the way an
attacker with the database (triggers bypassed, tests/integration/test_signatures_verification.py) could.
"""
from __future__ import annotations

import hashlib
import html
import io
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from edms.application import inspection
from edms.application.integrity import check_integrity
from edms.audit import AuditContext
from edms.crypto.cms import sign_detached, signature_value, signer_certificate
from edms.crypto.pki import create_root_ca, generate_private_key, issue_user_certificate
from edms.documents import models as dm
from edms.inspection.package import DOCUMENT, Scope
from edms.pki import trust_anchors
from edms.signatures.keys import signing_authority, subject_identity
from edms.signatures.models import Signature, SigningCredential
from edms.verifier.package import verify_package
from tests.conftest import TEST_ORGANISATION, bearer, sign_in
from tests.integration.test_signatures_verification import attacker

QA_USER = "emi.nakamura"  # a QA signer of the signed case (tests/support/signed_case.py)


@dataclass(frozen=True)
class Target:
    """The stored signature every case changes: the last signature of the first document's last version
    (a step that version 1, refused at its second step, never reached: moving it there breaks no unique key)."""

    id: int
    signature_id: str
    document_id: int
    row: Signature
    neighbour: Signature  # another signature of the same version
    earlier_version_id: int  # version 1 of the same document


def find_target(services, document_id: int) -> Target:
    with services.sessions() as session:
        document = session.get(dm.Document, document_id)
        last, earlier = document.versions[-1], document.versions[0]
        rows = list(session.scalars(select(Signature).where(Signature.version_id == last.id).order_by(Signature.id)))
        return Target(rows[-1].id, rows[-1].signature_id, document_id, rows[-1], rows[0], earlier.id)


def _tamper_row(settings, target: Target, **values) -> None:
    with attacker(settings, "signatures") as connection:
        connection.execute(update(Signature).where(Signature.id == target.id).values(**values))


def _flipped(cms: bytes) -> bytes:
    """One bit of the signature value inside the CMS: the structure still parses, the signature does not hold."""
    value = signature_value(cms)
    flipped = bytearray(cms)
    flipped[cms.rindex(value) + len(value) // 2] ^= 0x01
    return bytes(flipped)


def flip_cms_bit(settings, target: Target) -> None:
    """The time-stamp covers the signature value, so it is the first to no longer match."""
    _tamper_row(settings, target, cms=_flipped(target.row.cms))


def flip_cms_bit_and_restamp(settings, target: Target) -> None:
    """As above, by someone who also holds the organisation's TSA key and stamps the changed value: now it is
    the CMS signature itself that fails."""
    cms = _flipped(target.row.cms)
    response = signing_authority(settings).timestamp(hashlib.sha256(signature_value(cms)).digest())
    _tamper_row(settings, target, cms=cms, timestamp_response=response)


def swap_timestamp(settings, target: Target) -> None:
    _tamper_row(settings, target, timestamp_response=target.neighbour.timestamp_response)


def change_manifest_byte(settings, target: Target) -> None:
    manifest = bytearray(target.row.manifest)
    at = bytes(manifest).index(b'"content_sha256":"') + len(b'"content_sha256":"')
    manifest[at] = ord("0") if manifest[at] != ord("0") else ord("1")
    _tamper_row(settings, target, manifest=bytes(manifest))


def move_to_another_version(settings, target: Target) -> None:
    _tamper_row(settings, target, version_id=target.earlier_version_id)


def revoke_before_timestamp(settings, target: Target) -> None:
    """The signer's certificate recorded as revoked a day before the signature was time-stamped (a
    revocation backdated to a key compromise): every verdict judges revocation at the time-stamp."""
    with attacker(settings, "signing_credentials") as connection:
        connection.execute(update(SigningCredential).where(SigningCredential.id == target.row.credential_id)
                           .values(revoked_at=target.row.timestamped_at - timedelta(days=1)))


def foreign_pki(settings, target: Target) -> None:
    """The manifest signed again under a root of the attacker's own, in the signer's name, and stamped by
    the organisation's real TSA: only the chain is wrong."""
    names = subject_identity(signer_certificate(target.row.cms))
    now = target.row.signed_at - timedelta(days=1)
    root_key, leaf_key = generate_private_key(), generate_private_key()
    root = create_root_ca(root_key, org_name=TEST_ORGANISATION, now=now)
    leaf = issue_user_certificate(root, root_key, leaf_key.public_key(), printed_name=names["printed_name"],
                                  username=names["username"], user_id=names["user_id"], org_name=TEST_ORGANISATION,
                                  now=now)
    cms = sign_detached(leaf_key, leaf, target.row.manifest, [root])
    response = signing_authority(settings).timestamp(hashlib.sha256(signature_value(cms)).digest())
    _tamper_row(settings, target, cms=cms, timestamp_response=response)


@dataclass(frozen=True)
class Case:
    name: str
    tamper: Callable[..., None] | None
    reason: str | None  # a pattern every entry point's reason matches: they speak of the same thing
    run_pyz: bool = False


CASES = [
    Case("good", None, None, run_pyz=True),
    Case("cms-bit-flipped", flip_cms_bit, r"the time-stamp is for other data", run_pyz=True),
    Case("cms-bit-flipped-and-restamped", flip_cms_bit_and_restamp,
         r"the signature does not verify with the signer's certificate"),
    Case("another-signatures-time-stamp", swap_timestamp, r"the time-stamp is for other data"),
    Case("manifest-byte-changed", change_manifest_byte, r"content does not match the signed message digest"),
    Case("moved-to-another-version", move_to_another_version,
         r"belongs to \S+ version 3, not to \S+ version 1 \(copied or moved\)"),
    Case("revoked-before-the-time-stamp", revoke_before_timestamp, r"revoked on"),
    Case("foreign-pki", foreign_pki, r"does not chain to a trusted root"),
]


@dataclass(frozen=True)
class Judged:
    entry_point: str
    ok: bool
    reason: str


def judged_by_the_page(client, target: Target, version: int) -> Judged:
    page = client.get(f"/documents/{target.document_id}/versions/{version}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    item = re.search(rf'<li class="manifestation (valid|invalid)" id="signature-{target.signature_id}">(.*?)</li>',
                     text, re.S)
    assert item, f"signature {target.signature_id} not shown on version {version}'s page"
    shown = re.search(r'<dd class="verification">(.*?)</dd>', item.group(2), re.S)
    assert shown
    reason = html.unescape(re.sub(r"<[^>]+>", "", shown.group(1))).strip()
    return Judged("page", item.group(1) == "valid" and not reason.startswith("INVALID"), reason)


def judged_by_the_api(client, headers: dict[str, str], target: Target, version: int) -> list[Judged]:
    detail = client.get(f"/api/v1/signatures/{target.signature_id}", headers=headers)
    assert detail.status_code == 200, detail.json
    listed = client.get(f"/api/v1/documents/{target.document_id}/versions/{version}/signatures", headers=headers)
    assert listed.status_code == 200, listed.json
    (item,) = [item for item in listed.json["items"] if item["signature_id"] == target.signature_id]
    return [Judged("api signature", detail.json["verification"]["valid"], detail.json["verification"]["reason"]),
            Judged("api version's signatures", item["verification"]["valid"], item["verification"]["reason"])]


def judged_by_edms_verify(services, target: Target) -> Judged:
    report = check_integrity(services.engine, only={"signatures"}, trust=trust_anchors(services.settings))
    mine = [problem.text for problem in report.problems if problem.key == target.signature_id]
    # The signatures check fails exactly when this signature does (others by the same signer may fail too).
    assert report.ok == (not mine), [problem.text for problem in report.problems]
    return Judged("edms verify", not mine, "; ".join(mine))


def judged_offline(package: bytes, target: Target) -> Judged:
    report = verify_package(io.BytesIO(package))
    (item,) = [item for item in report.items if item.name.startswith(f"signature {target.signature_id} ")]
    if item.ok:  # then nothing else in the package fails either
        assert report.ok, [failure.line() for failure in report.failures]
    return Judged("edms-verify", item.ok, item.detail)


def judged_by_the_shipped_zipapp(package: bytes, target: Target, tmp_path: Path) -> Judged:
    """The verifier a recipient runs: the package's own edms_verify.pyz, isolated from this checkout."""
    path = tmp_path / "package.zip"
    path.write_bytes(package)
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        (tmp_path / "edms_verify.pyz").write_bytes(archive.read("edms_verify.pyz"))
    run = subprocess.run([sys.executable, "-I", str(tmp_path / "edms_verify.pyz"), str(path)], capture_output=True,
                         text=True, timeout=300, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    (line,) = [line for line in run.stdout.splitlines() if line[6:].startswith(f"signature {target.signature_id} ")]
    passed = line.startswith("PASS")
    assert run.returncode == (0 if passed else 1), run.stdout + run.stderr
    return Judged("edms_verify.pyz", passed, line.split(": ", 1)[1])


def export_document(services, document_id: int) -> bytes:
    out = io.BytesIO()
    with services.sessions() as session:
        inspection.export(services, session, AuditContext.system("verdict parity test"), Scope(DOCUMENT, document_id),
                          out)
    return out.getvalue()


@pytest.mark.req("11.70")
@pytest.mark.req("ERES-e-signature")
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_every_entry_point_gives_the_same_verdict_on_one_stored_signature(app, signed_case, settings, case, tmp_path):
    services = app.extensions["edms"]
    target = find_target(services, signed_case.documents[0])
    if case.tamper is not None:
        case.tamper(settings, target)
    with services.sessions() as session:
        version = session.get(dm.DocumentVersion, session.get(Signature, target.id).version_id).version

    page_client, api_client = app.test_client(), app.test_client()
    assert sign_in(page_client, QA_USER).status_code == 302
    verdicts = [judged_by_the_page(page_client, target, version),
                *judged_by_the_api(api_client, bearer(api_client, QA_USER), target, version),
                judged_by_edms_verify(services, target)]
    package = export_document(services, target.document_id)
    verdicts.append(judged_offline(package, target))
    if case.run_pyz:
        verdicts.append(judged_by_the_shipped_zipapp(package, target, tmp_path))

    expected = case.tamper is None
    assert [(v.entry_point, v.ok) for v in verdicts] == [(v.entry_point, expected) for v in verdicts], verdicts
    if case.reason is not None:
        for verdict in verdicts:
            assert re.search(case.reason, verdict.reason, re.I), verdict
