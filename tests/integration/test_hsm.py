"""The organisation's keys in an HSM (issue #16): generated in a PKCS#11 token, never leaving it, used for
every signature the file keys make, and shared by app nodes that keep nothing on their own disk.

SoftHSM2 plays the HSM: each test gets a fresh token made by `softhsm2-util`, as a security officer would."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from edms.app import create_app
from edms.audit.models import AuditEvent
from edms.cli import main
from edms.config import ConfigError, load_settings
from edms.crypto.tsa import verify_timestamp
from edms.pki import PkiError, PkiStore, lifecycle
from edms.pki.hsm import HsmPkiStore
from edms.pki.store import NAMES, PKI_DIRNAME, ROOT, SIGNING_CA, SYSTEM, TSA
from edms.pki.token import TokenError, TokenKey, token_for
from edms.timeutil import utc_now
from tests.support.signed_case import build_signed_case
from tests.support.softhsm import SoftHsm, require_softhsm

ORGANISATION = "Kansai Regenerative Cell Therapies K.K."


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory) -> SoftHsm:
    return SoftHsm.create(tmp_path_factory.mktemp("softhsm"), require_softhsm())


@pytest.fixture
def token(softhsm):
    return softhsm.new_token()


@pytest.fixture
def witness_file(tmp_path):
    return tmp_path / "shared-witness" / "tree-heads.jsonl"


def node_settings(database_url, data_dir, token, witness_file):
    return load_settings("testing", overrides={
        "database_url": database_url, "data_dir": str(data_dir), "witness_file": str(witness_file),
        "pkcs11_module": token.module, "pkcs11_token_label": token.label, "pkcs11_pin": token.pin})


@pytest.fixture
def hsm_settings(database_url, data_dir, token, witness_file):
    return node_settings(database_url, data_dir, token, witness_file)


def node_environment(softhsm, settings, token, *, pin=None):
    """A node's environment: its own data directory; the database, witness, token and PIN shared."""
    return {"EDMS_ENV": "testing", "EDMS_DATABASE_URL": settings.database_url, "EDMS_DATA_DIR": str(settings.data_dir),
            "EDMS_WITNESS_FILE": settings.witness_file, **softhsm.environment(token, pin=pin)}


def cli(softhsm, settings, token, *args, pin=None):
    return CliRunner().invoke(main, list(args), env=node_environment(softhsm, settings, token, pin=pin))


def edms_process(softhsm, settings, token, *args, pin=None, timeout=240):
    """`edms` in a process of its own: another node, loading the PKCS#11 module for itself."""
    environment = {**os.environ, **node_environment(softhsm, settings, token, pin=pin)}
    return subprocess.run([sys.executable, "-c", "from edms.cli import main; main()", *args], env=environment,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.req("ERES-authenticity")
@pytest.mark.req("11.10(d)")
def test_init_with_an_hsm_generates_every_key_in_the_token_sensitive_and_never_extractable(softhsm, token,
                                                                                          hsm_settings):
    result = cli(softhsm, hsm_settings, token, "init")
    assert result.exit_code == 0, result.output
    assert f"Organisation PKI created in the PKCS#11 token '{token.label}'" in result.output
    assert not (hsm_settings.data_dir / PKI_DIRNAME).exists()  # nothing of the PKI on the node's disk
    store = PkiStore.for_settings(hsm_settings)
    assert isinstance(store, HsmPkiStore)
    root = store.certificate(ROOT)
    for name in NAMES:
        key = store.private_key(name)
        assert isinstance(key, TokenKey) and isinstance(key.curve, ec.SECP256R1)
        assert key.public_key().public_numbers() == store.certificate(name).public_key().public_numbers()
        assert key.token.private_attributes(key.key_id) == {
            "sensitive": True, "extractable": False, "never_extractable": True, "local": True}
        with pytest.raises(TokenError, match="refused to export"):
            key.token.export_private_value(key.key_id)  # the token itself refuses CKA_VALUE
        with pytest.raises(TokenError, match="cannot be exported"):
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
        if name != ROOT:
            store.certificate(name).verify_directly_issued_by(root)
    root.verify_directly_issued_by(root)
    again = cli(softhsm, hsm_settings, token, "init")
    assert again.exit_code == 0 and "Organisation PKI kept in" in again.output, again.output
    assert store.certificate(ROOT) == root


@pytest.mark.req("ERES-authenticity")
@pytest.mark.req("11.10(e)")
def test_people_sign_under_the_hsm_pki_a_checkpoint_is_signed_and_edms_verify_passes(softhsm, token, hsm_settings):
    initialised = cli(softhsm, hsm_settings, token, "init")
    assert initialised.exit_code == 0, initialised.output
    app = create_app(hsm_settings)
    try:
        case = build_signed_case(app.extensions["edms"], types=("oos_notification",), versions=2)
    finally:
        app.extensions["edms"].engine.dispose()
    assert case.signatures  # certificates issued by the signing CA in the token, time-stamps by its TSA
    checkpoint = cli(softhsm, hsm_settings, token, "checkpoint")
    assert checkpoint.exit_code == 0, checkpoint.output
    verified = cli(softhsm, hsm_settings, token, "verify")
    assert verified.exit_code == 0, verified.output
    assert "first broken item" not in verified.output


@pytest.mark.req("11.10(d)")
def test_a_wrong_pin_stops_a_node_with_a_clear_error_and_it_never_serves(softhsm, token, hsm_settings):
    initialised = cli(softhsm, hsm_settings, token, "init")
    assert initialised.exit_code == 0, initialised.output
    served = edms_process(softhsm, hsm_settings, token, "serve", "--port", "0", pin="0000-0000", timeout=120)
    assert served.returncode != 0
    assert f"the PKCS#11 token '{token.label}'" in served.stderr and "refused the PIN in EDMS_PKCS11_PIN" in served.stderr
    assert "listening" not in served.stdout
    no_pin = edms_process(softhsm, hsm_settings, token, "verify", pin="", timeout=120)
    assert no_pin.returncode != 0 and "no PIN" in no_pin.stderr and "EDMS_PKCS11_PIN" in no_pin.stderr


def test_a_pin_in_a_production_configuration_file_is_refused_and_one_from_the_environment_is_used(monkeypatch,
                                                                                                 tmp_path):
    own = tmp_path / "config"
    own.mkdir()
    (own / "production.toml").write_text('environment = "production"\npkcs11_module = "/opt/hsm/libvendor.so"\n'
                                         'pkcs11_token_label = "edms"\npkcs11_pin = "1234"\n')
    monkeypatch.setenv("EDMS_CONFIG_DIR", str(own))
    monkeypatch.setenv("EDMS_SECRET_KEY", "s" * 48)
    monkeypatch.delenv("EDMS_PKI_PASSPHRASE", raising=False)
    with pytest.raises(ConfigError, match="pkcs11_pin is set in a configuration file .* EDMS_PKCS11_PIN"):
        load_settings("production")
    (own / "production.toml").write_text('environment = "production"\npkcs11_module = "/opt/hsm/libvendor.so"\n'
                                         'pkcs11_token_label = "edms"\n')
    monkeypatch.setenv("EDMS_PKCS11_PIN", "4821-0736")
    settings = load_settings("production")  # no PKI passphrase needed: the keys are in the HSM
    assert settings.pkcs11_pin == "4821-0736" and "4821-0736" not in repr(settings)


@pytest.mark.req("11.10(e)")
def test_the_administrator_renews_the_tsa_from_the_console_and_the_new_key_is_made_in_the_token(softhsm, token,
                                                                                                 hsm_settings):
    assert cli(softhsm, hsm_settings, token, "init").exit_code == 0
    before = PkiStore.for_settings(hsm_settings).certificate(TSA)
    renewed = cli(softhsm, hsm_settings, token, "pki", "renew-tsa", "--reason", "TSA certificate in its last year")
    assert renewed.exit_code == 0, renewed.output
    store = PkiStore.for_settings(hsm_settings)
    assert store.retired_certificates(TSA) == [before] and store.certificate(TSA) != before
    assert isinstance(store.private_key(TSA), TokenKey)
    with create_app(hsm_settings).app_context() as context:
        services = context.app.extensions["edms"]
        with services.sessions() as session:
            event = session.scalars(select(AuditEvent).where(AuditEvent.action == "pki.tsa_renewed")).one()
        services.engine.dispose()
    assert event.reason == "TSA certificate in its last year"


def test_tsa_renewal_and_root_rollover_make_their_keys_in_the_hsm_and_retire_the_old_ones_there(softhsm, token,
                                                                                                 hsm_settings):
    store = PkiStore.for_settings(hsm_settings)
    assert store.create(ORGANISATION)
    first_root, first_ca, first_tsa = store.certificate(ROOT), store.certificate(SIGNING_CA), store.certificate(TSA)

    renewed = lifecycle.renew_tsa(store, ORGANISATION)
    assert [(item.name, item.old) for item in renewed] == [(TSA, first_tsa)]
    assert store.certificate(TSA) == renewed[0].new != first_tsa
    assert store.retired_certificates(TSA) == [first_tsa]
    digest = hashlib.sha256(b"archive evidence").digest()
    stamp = store.internal_tsa().timestamp(digest)
    assert verify_timestamp(stamp, digest, [first_root]).ok  # the new TSA key in the token signs

    rolled = lifecycle.rollover_root(store, ORGANISATION, now=utc_now() + timedelta(days=1))
    assert {item.name for item in rolled} == {ROOT, SIGNING_CA, TSA}
    new_root = store.certificate(ROOT)
    assert store.retired_certificates(ROOT) == [first_root]
    assert store.retired_certificates(TSA) == [renewed[0].new, first_tsa]  # newest first
    assert store.trust_anchors().roots == (new_root, first_root)
    store.certificate(SIGNING_CA).verify_directly_issued_by(new_root)
    # The retired signing CA's key is still in the token: it issues the CRLs of what it certified.
    crl = lifecycle.issue_crl(store, first_ca, [], utc_now())
    assert crl.is_signature_valid(first_ca.public_key())
    for name in (ROOT, SIGNING_CA, TSA, SYSTEM):
        key = store.private_key(name)
        assert isinstance(key, TokenKey)
        assert key.token.private_attributes(key.key_id)["extractable"] is False
    # A node that opens the token afresh sees the same current and retired certificates.
    other = HsmPkiStore(store.token)
    assert other.certificate(ROOT) == new_root and other.retired_certificates(ROOT) == [first_root]
    with pytest.raises(PkiError, match="one rollover a day"):
        lifecycle.rollover_root(store, ORGANISATION, now=utc_now() + timedelta(days=1))


def test_threads_of_one_node_share_its_session_and_every_signature_they_make_verifies(softhsm, token):
    store = HsmPkiStore(token_for(token))
    store.create(ORGANISATION)
    key, public = store.private_key(SYSTEM), store.certificate(SYSTEM).public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    messages = [f"tree head {number}".encode() for number in range(64)]
    with ThreadPoolExecutor(max_workers=8) as pool:  # as waitress's threads do
        signatures = list(pool.map(lambda message: key.sign(message, ec.ECDSA(hashes.SHA256())), messages))
    for message, signature in zip(messages, signatures, strict=True):
        public.verify(signature, message, ec.ECDSA(hashes.SHA256()))  # raises InvalidSignature otherwise


def test_a_process_forked_after_the_session_was_opened_signs_with_a_session_of_its_own(softhsm, token):
    store = HsmPkiStore(token_for(token))
    store.create(ORGANISATION)
    key, public = store.private_key(SYSTEM), store.certificate(SYSTEM).public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    key.sign(b"before the fork", ec.ECDSA(hashes.SHA256()))
    reading, writing = os.pipe()
    child = os.fork()  # as a pre-forking server would, after the parent opened its session
    if child == 0:
        try:
            os.write(writing, key.sign(b"in the child", ec.ECDSA(hashes.SHA256())))
        finally:
            os._exit(0)
    os.close(writing)
    signature = os.read(reading, 256)
    os.waitpid(child, 0)
    public.verify(signature, b"in the child", ec.ECDSA(hashes.SHA256()))
    key.sign(b"after the fork", ec.ECDSA(hashes.SHA256()))  # the parent's session still works


@pytest.mark.req("ERES-authenticity")
def test_two_nodes_with_their_own_data_directories_sign_with_the_same_token_and_database(softhsm, token, hsm_settings,
                                                                                         tmp_path, witness_file):
    node_a = hsm_settings
    node_b = node_settings(node_a.database_url, tmp_path / "node-b", token, witness_file)
    initialised = edms_process(softhsm, node_b, token, "init")
    assert initialised.returncode == 0, initialised.stderr

    app = create_app(node_a)  # node A: people sign; their certificates and time-stamps come from the token
    try:
        case = build_signed_case(app.extensions["edms"], types=("oos_notification",), versions=1)
    finally:
        app.extensions["edms"].engine.dispose()
    assert case.signatures
    checkpoint = edms_process(softhsm, node_b, token, "checkpoint")  # node B: the system key signs
    assert checkpoint.returncode == 0, checkpoint.stderr

    verified = cli(softhsm, node_a, token, "verify")
    assert verified.exit_code == 0, verified.output
    for node in (node_a, node_b):
        assert not (node.data_dir / PKI_DIRNAME).exists()
