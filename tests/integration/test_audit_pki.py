"""The organisation PKI on disk, the console commands, and checkpoints that `openssl` can check (ER/ES authenticity)."""
from __future__ import annotations

import dataclasses
import http.server
import shutil
import subprocess
import threading

import pytest
from asn1crypto import cms as asn1_cms
from asn1crypto import tsp
from click.testing import CliRunner
from sqlalchemy import select

from edms.application.integrity import check_integrity as verify
from edms.audit import AuditContext, record
from edms.audit.checkpoints import checkpoint_payload, create_checkpoint_now
from edms.audit.models import AuditCheckpoint
from edms.cli import main
from edms.config import ConfigError, load_settings
from edms.crypto.keywrap import WrongPassword, load_encrypted_private_key_pem
from edms.db import make_engine, transaction
from edms.pki import FilePkiStore, PkiError, PkiStore
from edms.pki.store import NAMES, SYSTEM, InternalTsa, SystemSigner


def cli(settings, *args, **env):
    variables = {"EDMS_ENV": "testing", "EDMS_DATABASE_URL": settings.database_url,
                 "EDMS_DATA_DIR": str(settings.data_dir), **env}
    return CliRunner().invoke(main, list(args), env=variables)


def serial_of(tsr: bytes) -> int:
    token = tsp.TimeStampResp.load(tsr)["time_stamp_token"]
    return tsp.TSTInfo.load(token["content"]["encap_content_info"]["content"].contents)["serial_number"].native


@pytest.mark.req("ERES-authenticity")
@pytest.mark.req("11.10(e)")
def test_init_creates_the_pki_once_with_encrypted_keys_outside_the_database(settings):
    result = cli(settings, "init")
    assert result.exit_code == 0, result.output
    store = PkiStore.for_settings(settings)
    assert "Organisation PKI created in" in result.output and store.directory == settings.data_dir / "pki"
    root = store.certificate("root")
    for name in NAMES:
        pem = (store.directory / store.key_file(name)).read_bytes()
        assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert (store.directory / store.key_file(name)).stat().st_mode & 0o077 == 0
        with pytest.raises(WrongPassword):
            load_encrypted_private_key_pem(pem, b"not the passphrase")
    again = cli(settings, "init")
    assert again.exit_code == 0 and "Organisation PKI kept in" in again.output
    assert store.certificate("root") == root  # never replaced: earlier signatures keep verifying
    with pytest.raises(PkiError, match="pki_passphrase does not open"):
        FilePkiStore(store.directory, "a wrong passphrase").private_key(SYSTEM)


def test_production_refuses_the_development_pki_passphrase(monkeypatch):
    monkeypatch.setenv("EDMS_SECRET_KEY", "x" * 48)
    monkeypatch.delenv("EDMS_PKI_PASSPHRASE", raising=False)
    with pytest.raises(ConfigError, match="PKI passphrase"):
        load_settings("production")


def test_an_incomplete_pki_is_refused_with_what_to_do(settings, organisation_pki):
    (organisation_pki.directory / organisation_pki.key_file("tsa")).unlink()
    with pytest.raises(PkiError, match="incomplete .*tsa.key.pem.* restore it from the backup"):
        organisation_pki.system_signer()


@pytest.mark.req("ALCOA+")
def test_internal_time_stamps_have_unique_serial_numbers(organisation_pki):
    tsa = organisation_pki.internal_tsa()
    serials = {serial_of(tsa.timestamp(bytes(32))) for _ in range(200)}
    assert len(serials) == 200 and min(serials) > 0


@pytest.mark.req("11.10(e)")
@pytest.mark.req("ERES-authenticity")
def test_checkpoint_and_verify_commands_and_openssl_checks_the_checkpoint(settings, sessions, organisation_pki, tmp_path):
    with transaction(sessions) as session:
        record(session, AuditContext.system("test"), "test.appended", "test", 1)
    made = cli(settings, "checkpoint")
    assert made.exit_code == 0, made.output
    assert made.output.startswith("checkpoint #1: seq 1 ")
    verified = cli(settings, "verify")
    assert verified.exit_code == 0, verified.output
    assert "verified: 2 audit_event, 1 audit_checkpoint, 1 audit_witness examined" in verified.output

    with sessions() as session:
        checkpoint = session.scalars(select(AuditCheckpoint)).one()
    files = {name: tmp_path / name for name in ("payload.json", "signature.der", "token.der", "root.pem")}
    files["payload.json"].write_bytes(checkpoint_payload(checkpoint.number, checkpoint.seq, checkpoint.head_hash,
                                                         checkpoint.created_at))
    files["signature.der"].write_bytes(checkpoint.signature)
    files["token.der"].write_bytes(checkpoint.timestamp_token)
    shutil.copy(organisation_pki.directory / organisation_pki.cert_file("root"), files["root.pem"])
    cms_check = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", files["signature.der"],
         "-content", files["payload.json"], "-CAfile", files["root.pem"], "-purpose", "any", "-out", "/dev/null"],
        capture_output=True, text=True)
    assert cms_check.returncode == 0, cms_check.stderr
    signature_value = asn1_cms.ContentInfo.load(checkpoint.signature)["content"]["signer_infos"][0]["signature"].native
    files["signed-value"] = tmp_path / "signed-value"
    files["signed-value"].write_bytes(signature_value)
    ts_check = subprocess.run(
        ["openssl", "ts", "-verify", "-token_in", "-in", files["token.der"], "-data", files["signed-value"],
         "-CAfile", files["root.pem"]], capture_output=True, text=True)
    assert ts_check.returncode == 0, ts_check.stderr + ts_check.stdout


class _ExternalTsa(http.server.BaseHTTPRequestHandler):
    """A minimal RFC 3161 server over HTTP, run by another organisation's PKI."""

    tsa: InternalTsa

    def do_POST(self):  # noqa: N802 (http.server's naming)
        request = tsp.TimeStampReq.load(self.rfile.read(int(self.headers["Content-Length"])))
        reply = self.tsa.timestamp(request["message_imprint"]["hashed_message"].native, nonce=request["nonce"].native)
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


@pytest.mark.req("11.10(e)")
def test_an_external_tsa_at_tsa_url_stamps_checkpoints_and_its_roots_are_trusted(settings, sessions, organisation_pki, tmp_path):
    external = FilePkiStore(tmp_path / "external-tsa", "their passphrase")
    external.create("Japan Time-Stamping Service", kdf_iterations=1000)
    handler = type("Handler", (_ExternalTsa,), {"tsa": external.internal_tsa()})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ca_file = external.directory / external.cert_file("root")
    configured = dataclasses.replace(settings, tsa_url=f"http://127.0.0.1:{server.server_port}/tsa",
                                     tsa_ca_file=str(ca_file))
    try:
        signer = organisation_pki.system_signer(tsa_url=configured.tsa_url, tsa_ca_file=configured.tsa_ca_file)
        assert isinstance(signer, SystemSigner)
        with transaction(sessions) as session:
            record(session, AuditContext.system("test"), "test.appended", "test", 1)
        create_checkpoint_now(sessions, AuditContext.system("test"), signer)
    finally:
        server.shutdown()
    engine = make_engine(settings.database_url)
    assert verify(engine, trust=organisation_pki.trust_anchors(str(ca_file))).ok
    wrong_roots = verify(engine, trust=organisation_pki.trust_anchors())
    assert "time-stamp invalid" in wrong_roots.first_problem.describe()
    engine.dispose()
