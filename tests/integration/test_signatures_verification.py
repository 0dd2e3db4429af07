"""Stored signatures verify outside edms with openssl alone, and every way of moving, copying, editing or
forging one is caught, on screen, in renditions, over the API and by `edms verify`
(21 CFR 11.30, 11.50, 11.70, 11.200(a)(2)-(3), 11.300(c); ER/ES e-signature; EU Annex 11 §14).

The attacker has full database access: triggers are dropped (SQLite) or bypassed with
session_replication_role = replica (PostgreSQL, the test server runs as superuser). Where stated, they
also hold the organisation PKI and its passphrase. Only the signers' passwords are out of reach.
"""
from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from docx import Document as DocxDocument
from pypdf import PdfReader
from sqlalchemy import insert, select, text, update

from edms.application import accounts
from edms.application.integrity import check_integrity as verify
from edms.cli import main
from edms.crypto.cms import sign_detached, signature_value
from edms.crypto.keywrap import WrongPassword, unwrap_user_key
from edms.crypto.pki import create_root_ca, generate_private_key, issue_user_certificate
from edms.db import make_engine, transaction
from edms.documents import models as dm
from edms.documents.operations import revise, submit
from edms.pki import trust_anchors
from edms.pki.store import SIGNING_CA, SYSTEM
from edms.signatures.keys import certificate_of, signing_authority
from edms.signatures.manifest import Manifest
from edms.signatures.models import Signature, SigningCredential
from edms.signatures.presentation import current_trust
from edms.signatures.verification import verify_stored
from edms.timeutil import utc_now
from edms.users.models import User
from tests.conftest import PASSWORD, sign_in
from tests.integration.signing_fixtures import context

SIGNATURES = Signature.__table__


@contextmanager
def attacker(settings, *tables: str):
    """A transaction that bypasses every trigger on `tables`, as the database owner could."""
    engine = make_engine(settings.database_url)
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as connection:
        saved = []
        if sqlite:
            for table in tables:
                saved += connection.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                                 "AND tbl_name = :table"), {"table": table}).all()
            for name, _sql in saved:
                connection.exec_driver_sql(f"DROP TRIGGER {name}")
        else:
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        yield connection
        for _name, sql in saved:
            connection.exec_driver_sql(sql)
    engine.dispose()


def verdict(story, signature_id: int):
    with story.sessions() as session:
        return verify_stored(session, session.get(Signature, signature_id), current_trust(session, story.settings))


def stored(story, signature_id: int) -> Signature:
    with story.sessions() as session:
        return session.get(Signature, signature_id)


def copy_row(story, signature: Signature, **changes) -> int:
    """The attacker's copy of a signature row (INSERT is allowed: the table is append-only)."""
    row = {column.name: getattr(signature, column.name) for column in SIGNATURES.columns if column.name != "id"}
    row.update(signature_id=str(uuid.uuid4()), **changes)
    engine = make_engine(story.settings.database_url)
    with engine.begin() as connection:
        new_id = connection.execute(insert(SIGNATURES).values(**row).returning(SIGNATURES.c.id)).scalar_one()
    engine.dispose()
    return new_id


def pem(tmp_path, name, *certs) -> str:
    path = tmp_path / name
    path.write_bytes(b"".join(cert.public_bytes(Encoding.PEM) for cert in certs))
    return str(path)


def openssl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)


def run_edms_verify(settings):
    env = {"EDMS_ENV": "testing", "EDMS_DATABASE_URL": settings.database_url, "EDMS_DATA_DIR": str(settings.data_dir)}
    return CliRunner().invoke(main, ["verify"], env=env)


# --- openssl, on what is stored --------------------------------------------------------------------------


@pytest.mark.req("11.30", "ERES-e-signature", "A11-14", "11.70")
def test_openssl_verifies_every_stored_signature_and_time_stamp(signing, client, tmp_path):
    signing.sign_through()
    ca_pem = client.get("/api/v1/pki/ca.pem")  # published without authentication
    tsa_pem = client.get("/api/v1/pki/tsa.pem")
    assert ca_pem.status_code == 200 and tsa_pem.status_code == 200
    (tmp_path / "ca.pem").write_bytes(ca_pem.data)
    (tmp_path / "tsa.pem").write_bytes(tsa_pem.data)
    engine = make_engine(signing.settings.database_url)
    with engine.connect() as connection:
        rows = connection.execute(select(SIGNATURES.c.manifest, SIGNATURES.c.cms, SIGNATURES.c.timestamp_response)
                                  .order_by(SIGNATURES.c.id)).all()
    engine.dispose()
    assert len(rows) == 3
    for number, (manifest, cms, response) in enumerate(rows):
        folder = tmp_path / f"signature-{number}"
        folder.mkdir()
        (folder / "manifest.json").write_bytes(manifest)
        (folder / "sig.p7s").write_bytes(cms)
        (folder / "token.tsr").write_bytes(response)
        (folder / "sigvalue.bin").write_bytes(signature_value(cms))
        checked = openssl("cms", "-verify", "-binary", "-inform", "DER", "-in", str(folder / "sig.p7s"),
                          "-content", str(folder / "manifest.json"), "-CAfile", str(tmp_path / "ca.pem"),
                          "-out", "/dev/null")
        assert checked.returncode == 0, checked.stderr
        assert "Verification successful" in checked.stderr
        stamped = openssl("ts", "-verify", "-in", str(folder / "token.tsr"), "-data", str(folder / "sigvalue.bin"),
                          "-CAfile", str(tmp_path / "ca.pem"), "-untrusted", str(tmp_path / "tsa.pem"))
        assert stamped.returncode == 0, stamped.stderr + stamped.stdout
        assert "Verification: OK" in stamped.stdout
        # One changed byte of the manifest and openssl refuses too.
        altered = bytearray(manifest)
        altered[manifest.index(b"content_sha256") + 20] ^= 0x01
        (folder / "altered.json").write_bytes(bytes(altered))
        refused = openssl("cms", "-verify", "-binary", "-inform", "DER", "-in", str(folder / "sig.p7s"),
                          "-content", str(folder / "altered.json"), "-CAfile", str(tmp_path / "ca.pem"),
                          "-out", "/dev/null")
        assert refused.returncode != 0


@pytest.mark.req("11.300(c)", "11.30")
def test_the_published_crl_lists_revoked_certificates_and_openssl_checks_against_it(signing, client, tmp_path, app):
    services = app.extensions["edms"]
    made = signing.sign(signing.author)
    with signing.sessions() as session:
        credential = session.get(SigningCredential, made.credential_id)
        cert = certificate_of(credential)
    store_ca = signing_authority(signing.settings).ca_cert
    (tmp_path / "ca.pem").write_bytes(client.get("/api/v1/pki/ca.pem").data)
    (tmp_path / "signing-ca.pem").write_bytes(client.get("/api/v1/pki/signing-ca.pem").data)
    leaf = pem(tmp_path, "signer.pem", cert)

    def check():
        (tmp_path / "crl.pem").write_bytes(client.get("/api/v1/pki/crl?format=pem").data)
        return openssl("verify", "-crl_check", "-CAfile", str(tmp_path / "ca.pem"), "-untrusted",
                       str(tmp_path / "signing-ca.pem"), "-CRLfile", str(tmp_path / "crl.pem"), leaf)

    assert check().returncode == 0
    with transaction(signing.sessions) as session:
        accounts.deactivate(services, session, context(signing.admin), session.get(User, signing.author.id),
                            "left the company")
    der = client.get("/api/v1/pki/crl")
    assert der.status_code == 200 and der.mimetype == "application/pkix-crl"
    crl = x509.load_der_x509_crl(der.data)
    assert crl.is_signature_valid(store_ca.public_key())
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
    revoked = check()
    assert revoked.returncode != 0 and "revoked" in (revoked.stdout + revoked.stderr)
    assert verdict(signing, made.id).ok, "signed and time-stamped before the revocation: still valid"


# --- 11.70: a signature belongs to one version's content ------------------------------------------------


@pytest.mark.req("11.70", "A11-14")
def test_a_signature_copied_to_another_version_fails(signing):
    made = signing.sign(signing.author)
    reviewed = signing.sign(signing.reviewer)
    assert verdict(signing, made.id).ok and verdict(signing, reviewed.id).ok
    with transaction(signing.sessions) as session:
        author = session.get(User, signing.author.id)
        document = session.get(dm.Document, signing.document_id)
        revise(session, context(author), author, signing.document_types["oos_notification"], document,
               "Retest result added")
        version_two = submit(session, context(author), author, document)
        version_two_id = version_two.id
    copied = copy_row(signing, stored(signing, made.id), version_id=version_two_id, version=2)
    result = verdict(signing, copied)
    assert not result.ok and "copied or moved" in result.text and "version 1" in result.text
    # A stored row itself moved, behind the triggers.
    with attacker(signing.settings, "signatures") as connection:
        connection.execute(update(SIGNATURES).where(SIGNATURES.c.id == reviewed.id)
                           .values(version_id=version_two_id, version=2))
    moved = verdict(signing, reviewed.id)
    assert not moved.ok and "not to OOS" in moved.text and "version 2 (copied or moved)" in moved.text


@pytest.mark.req("11.70", "ERES-e-signature")
def test_a_signature_copied_to_another_document_fails(signing):
    made = signing.sign(signing.author)
    reviewed = signing.sign(signing.reviewer)
    other = signing.new_oos()
    copied = copy_row(signing, stored(signing, made.id), document_id=other.id, version_id=other.latest.id)
    result = verdict(signing, copied)
    assert not result.ok
    assert result.text.startswith(f"the signature belongs to {signing.document().number} version 1, not to {other.number}")
    with attacker(signing.settings, "signatures") as connection:
        connection.execute(update(SIGNATURES).where(SIGNATURES.c.id == reviewed.id)
                           .values(document_id=other.id, version_id=other.latest.id))
    assert f"not to {other.number} version 1" in verdict(signing, reviewed.id).text


@pytest.mark.req("11.70", "11.10(a)")
def test_content_changed_by_one_byte_fails_and_the_page_says_invalid(signing, client):
    made = signing.sign(signing.author)
    sign_in(client, signing.reviewer.username)
    page = client.get(f"/documents/{signing.document_id}").get_data(as_text=True)
    assert "INVALID" not in page and made.signature_id in page  # shown (and its verification cached)
    version_id = signing.document().latest.id
    with attacker(signing.settings, "document_versions") as connection:
        content = connection.execute(select(dm.DocumentVersion.content).where(dm.DocumentVersion.id == version_id)).scalar_one()
        assert '"result":"72.0"' in content
        connection.execute(update(dm.DocumentVersion).where(dm.DocumentVersion.id == version_id)
                           .values(content=content.replace('"result":"72.0"', '"result":"82.0"')))
    result = verdict(signing, made.id)
    assert not result.ok and "content of the version changed after it was signed" in result.text
    page = client.get(f"/documents/{signing.document_id}").get_data(as_text=True)
    assert "INVALID" in page and "changed after it was signed" in page


@pytest.mark.req("11.70", "11.50(b)")
def test_a_changed_byte_in_the_stored_manifest_or_row_fails(signing):
    made = signing.sign(signing.author)
    with attacker(signing.settings, "signatures") as connection:
        connection.execute(update(SIGNATURES).where(SIGNATURES.c.id == made.id)
                           .values(manifest=made.manifest.replace(b"Kenji Sato", b"Kenji Satoh")))
    assert "does not verify" in verdict(signing, made.id).text
    with attacker(signing.settings, "signatures") as connection:
        connection.execute(update(SIGNATURES).where(SIGNATURES.c.id == made.id)
                           .values(manifest=made.manifest, meaning="approved"))
    result = verdict(signing, made.id)
    assert not result.ok and "differs from the signed manifest in meaning" in result.text


@pytest.mark.req("11.70", "11.200(a)(2)-(3)")
def test_another_users_certificate_substituted_fails(signing):
    signing.sign(signing.author)
    reviewed = signing.sign(signing.reviewer)
    approved = signing.sign(signing.approver)
    # The attacker re-signs Hiroshi's approval with Akiko's key and certificate (they know her password).
    with signing.sessions() as session:
        akiko = session.get(SigningCredential, reviewed.credential_id)
        key, cert = unwrap_user_key(akiko.wrapped_key, PASSWORD), certificate_of(akiko)
    authority = signing_authority(signing.settings)
    cms = sign_detached(key, cert, approved.manifest, [authority.ca_cert])
    response = authority.timestamp(hashlib.sha256(signature_value(cms)).digest())
    with attacker(signing.settings, "signatures") as connection:
        connection.execute(update(SIGNATURES).where(SIGNATURES.c.id == approved.id)
                           .values(cms=cms, timestamp_response=response))
    result = verdict(signing, approved.id)
    assert not result.ok
    assert "belongs to Akiko Tanaka (akiko.tanaka), not to the signer named in the manifest (Hiroshi Yamamoto" in result.text


# --- an administrator with the database (and the PKI) cannot sign for someone else ---------------------


def forged_approval(story) -> Manifest:
    """Hiroshi's approval of a fresh OOS notification that waits for it (authored and reviewed)."""
    waiting = story.new_oos()
    story.sign(story.author, document_id=waiting.id)
    story.sign(story.reviewer, document_id=waiting.id)
    document = story.document(waiting.id)
    return Manifest(signature_id=str(uuid.uuid4()), kind="signature", document_id=document.id,
                    document_number=document.number, version=1, content_sha256=document.latest.content_sha256,
                    step="qa_approval", meaning="approved", signer_user_id=story.approver.id,
                    signer_username=story.approver.username, signer_printed_name=story.approver.printed_name,
                    signer_role="qa", signed_at=utc_now())


def insert_forgery(story, manifest: Manifest, key, cert, chain, credential_id: int) -> int:
    authority = signing_authority(story.settings)
    data = manifest.to_bytes()
    cms = sign_detached(key, cert, data, chain)
    response = authority.timestamp(hashlib.sha256(signature_value(cms)).digest())
    version_id = story.document(manifest.document_id).latest.id
    engine = make_engine(story.settings.database_url)
    with engine.begin() as connection:
        new_id = connection.execute(insert(SIGNATURES).values(
            signature_id=manifest.signature_id, kind="signature", document_id=manifest.document_id,
            version_id=version_id, version=1, step=manifest.step, meaning=manifest.meaning,
            signer_id=manifest.signer_user_id, credential_id=credential_id, signed_at=manifest.signed_at,
            comment=None, manifest=data, cms=cms, timestamp_response=response,
            timestamped_at=utc_now(), session_ref=None).returning(SIGNATURES.c.id)).scalar_one()
    engine.dispose()
    return new_id


@pytest.mark.req("11.200(a)(2)-(3)", "11.300(d)")
def test_an_administrator_with_the_database_and_the_pki_cannot_sign_for_someone_else(signing, organisation_pki):
    signing.sign_through()  # Hiroshi signed before, so his wrapped key is in the database
    with signing.sessions() as session:
        credential = session.scalar(select(SigningCredential).where(SigningCredential.user_id == signing.approver.id))
    # 1. The rows and the PKI do not open his key: only his password does.
    for guess in ("testing-pki-passphrase", "Admin-Pass-2026!", signing.approver.username, ""):
        with pytest.raises(WrongPassword):
            unwrap_user_key(credential.wrapped_key, guess)
    # 2. A key and certificate of one's own, not issued by the organisation's signing CA.
    rogue_key = generate_private_key()
    rogue_root = create_root_ca(rogue_key, org_name="Kansai Regenerative Cell Therapies K.K.", now=utc_now() - timedelta(days=1))
    leaf_key = generate_private_key()
    rogue_cert = issue_user_certificate(rogue_root, rogue_key, leaf_key.public_key(), printed_name="Hiroshi Yamamoto",
                                        username="hiroshi.yamamoto", user_id=str(signing.approver.id),
                                        org_name="Kansai Regenerative Cell Therapies K.K.", now=utc_now() - timedelta(days=1))
    self_made = insert_forgery(signing, forged_approval(signing), leaf_key, rogue_cert, [rogue_root], credential.id)
    assert "does not chain to a trusted root" in verdict(signing, self_made).text
    # 3. The system's own key, from the organisation PKI.
    system = insert_forgery(signing, forged_approval(signing), organisation_pki.private_key(SYSTEM),
                            organisation_pki.certificate(SYSTEM), [], credential.id)
    assert "not a person's certificate" in verdict(signing, system).text
    # 4. A certificate in his name from the real signing CA (whoever holds the PKI passphrase can issue one).
    ca_key, ca_cert = organisation_pki.private_key(SIGNING_CA), organisation_pki.certificate(SIGNING_CA)
    issued = issue_user_certificate(ca_cert, ca_key, leaf_key.public_key(), printed_name="Hiroshi Yamamoto",
                                    username="hiroshi.yamamoto", user_id=str(signing.approver.id),
                                    org_name="Kansai Regenerative Cell Therapies K.K.", now=utc_now() - timedelta(minutes=1))
    with_ca = insert_forgery(signing, forged_approval(signing), leaf_key, issued, [ca_cert], credential.id)
    assert "not the one edms issued to Hiroshi Yamamoto" in verdict(signing, with_ca).text
    # `edms verify` names each forgery, and that no audit event ever recorded it.
    result = run_edms_verify(signing.settings)
    assert result.exit_code == 1, result.output
    for forged in (self_made, system, with_ca):
        assert stored(signing, forged).signature_id in result.output
    assert "no audit event records this signature" in result.output


# --- 11.300(c): revocation is judged at the time-stamp ---------------------------------------------------


@pytest.mark.req("11.300(c)")
def test_a_revoked_certificate_fails_after_its_revocation_and_passes_before(signing, app):
    services = app.extensions["edms"]
    before = signing.sign(signing.author)
    with signing.sessions() as session:
        credential = session.get(SigningCredential, before.credential_id)
        key, cert = unwrap_user_key(credential.wrapped_key, PASSWORD), certificate_of(credential)  # stolen earlier
    with transaction(signing.sessions) as session:
        accounts.deactivate(services, session, context(signing.admin), session.get(User, signing.author.id),
                            "credentials compromised")
    time.sleep(1.1)  # a revocation takes effect at the next whole second, as the CRL states it
    after = Manifest(signature_id=str(uuid.uuid4()), kind="signature", document_id=signing.document_id,
                     document_number=signing.document().number, version=1,
                     content_sha256=signing.document().latest.content_sha256, step="qa_review", meaning="reviewed",
                     signer_user_id=signing.author.id, signer_username="kenji.sato", signer_printed_name="Kenji Sato",
                     signer_role="author", signed_at=utc_now())
    authority = signing_authority(signing.settings)
    forged = insert_forgery(signing, after, key, cert, [authority.ca_cert], credential.id)
    result = verdict(signing, forged)
    assert not result.ok and "revoked" in result.text
    assert verdict(signing, before.id).ok


# --- `edms verify` ------------------------------------------------------------------------------------------


@pytest.mark.req("11.10(a)", "11.70", "ERES-e-signature")
def test_edms_verify_checks_every_signature_and_names_the_broken_one(signing):
    signatures = signing.sign_through()
    trust = trust_anchors(signing.settings)
    engine = make_engine(signing.settings.database_url)
    report = verify(engine, only={"signatures"}, trust=trust)
    assert report.ok and report.counts["signature"] == 3, report.to_dict()
    clean = run_edms_verify(signing.settings)
    assert clean.exit_code == 0 and "3 signature" in clean.output, clean.output
    version_id = signing.document().latest.id
    with attacker(signing.settings, "document_versions") as connection:
        connection.execute(update(dm.DocumentVersion).where(dm.DocumentVersion.id == version_id)
                           .values(title="Viability OOS (corrected)"))
    report = verify(engine, only={"signatures"}, trust=trust)
    engine.dispose()
    assert report.problem_count == 3
    assert {problem.key for problem in report.problems} == {s.signature_id for s in signatures}
    assert all("changed after it was signed" in problem.text for problem in report.problems)
    broken = run_edms_verify(signing.settings)
    assert broken.exit_code == 1 and f"signature {signatures[0].signature_id}" in broken.output


# --- 11.50: the manifestation everywhere --------------------------------------------------------------------


@pytest.mark.req("11.50(a)", "ERES-legibility")
def test_renditions_show_name_time_with_zone_meaning_step_and_verification(signing, client):
    signing.sign_through()
    sign_in(client, signing.reviewer.username)
    pdf = client.get(f"/documents/{signing.document_id}/versions/1/rendition.pdf")
    text_pdf = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    docx = DocxDocument(io.BytesIO(client.get(f"/documents/{signing.document_id}/versions/1/rendition.docx").data))
    text_docx = " ".join(cell.text for table in docx.tables for row in table.rows for cell in row.cells)
    for printed in (" ".join(text_pdf.split()), text_docx):
        for expected in ("Kenji Sato", "Akiko Tanaka", "Hiroshi Yamamoto", "Authored", "Reviewed", "Approved",
                         "Reviewed by QA", "JST (UTC+09:00)", "valid"):
            assert expected in printed, expected
        for signature in signing.signatures():
            assert signature.signature_id in printed


@pytest.mark.req("11.50(a)")
def test_the_document_page_and_version_history_show_every_manifestation(signing, client):
    signing.sign_through()
    sign_in(client, signing.author.username)
    page = client.get(f"/documents/{signing.document_id}").get_data(as_text=True)
    for expected in ("Kenji Sato (kenji.sato)", "Akiko Tanaka (akiko.tanaka)", "Hiroshi Yamamoto (hiroshi.yamamoto)",
                     "Authored", "Reviewed", "Approved", "Reviewed by QA", "JST (UTC+09:00)", "valid"):
        assert expected in page
    history = page.split('id="history-table"')[1]
    assert "Hiroshi Yamamoto: Approved" in history and "JST" in history


@pytest.mark.req("11.50(a)", "11.50(b)")
def test_the_api_shows_the_manifestation_and_the_evidence(signing, client):
    signing.sign_through()
    token = client.post("/api/v1/auth/token", json={"username": "akiko.tanaka", "password": PASSWORD}).json["token"]
    headers = {"Authorization": f"Bearer {token}"}
    listed = client.get(f"/api/v1/documents/{signing.document_id}/versions/1/signatures", headers=headers).json["items"]
    assert [(i["printed_name"], i["meaning"], i["step"]) for i in listed] == [
        ("Kenji Sato", "authored", "qc_author"), ("Akiko Tanaka", "reviewed", "qa_review"),
        ("Hiroshi Yamamoto", "approved", "qa_approval")]
    assert all(i["signed_at"].endswith("Z") and i["verification"]["valid"] for i in listed)
    detail = client.get(f"/api/v1/signatures/{listed[2]['signature_id']}", headers=headers).json
    row = [s for s in signing.signatures() if s.signature_id == listed[2]["signature_id"]][0]
    assert base64.b64decode(detail["manifest_base64"]) == row.manifest
    assert base64.b64decode(detail["cms_base64"]) == row.cms
    assert base64.b64decode(detail["signature_value_base64"]) == signature_value(row.cms)
    assert base64.b64decode(detail["timestamp_response_base64"]) == row.timestamp_response
    assert detail["timestamp_token_base64"] and detail["manifest"]["signer_printed_name"] == "Hiroshi Yamamoto"
    chain = x509.load_pem_x509_certificates(detail["certificate_chain_pem"].encode())
    assert [c.subject.rfc4514_string().split(",")[0] for c in chain][1:] == [
        "CN=Kansai Regenerative Cell Therapies K.K. Signing CA", "CN=Kansai Regenerative Cell Therapies K.K. Root CA"]
    assert detail["verification"] == {"valid": True, "status": "valid", "reason": listed[2]["verification"]["reason"]}
