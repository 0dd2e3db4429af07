"""Private keys at rest: organisation keys under a passphrase, each user's key under their own password."""
import base64
import json
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization

from edms.crypto.keywrap import (
    WrongPassword,
    encrypt_private_key_pem,
    load_encrypted_private_key_pem,
    rewrap_user_key,
    unwrap_user_key,
    wrap_user_key,
)
from edms.crypto.pki import generate_private_key

FAST = {"time_cost": 1, "memory_cost_kib": 256, "parallelism": 1}  # real Argon2id, test-sized
PASSWORD = "Correct-Horse-2026!"


@pytest.fixture(scope="module")
def key():
    return generate_private_key()


def same_key(a, b):
    return a.private_numbers() == b.private_numbers()


@pytest.mark.req("11.200(a)(2)-(3)")
def test_user_key_opens_with_the_users_password(key):
    blob = wrap_user_key(key, PASSWORD, **FAST)
    assert same_key(unwrap_user_key(blob, PASSWORD), key)


@pytest.mark.req("11.200(a)(2)-(3)")
@pytest.mark.parametrize("attempt", ["", "correct-horse-2026!", PASSWORD + " ", "Correct-Horse-2026"])
def test_user_key_does_not_open_with_any_other_password(key, attempt):
    blob = wrap_user_key(key, PASSWORD, **FAST)
    with pytest.raises(WrongPassword):
        unwrap_user_key(blob, attempt)


def test_wrapped_key_is_a_self_describing_versioned_json_document(key):
    document = json.loads(wrap_user_key(key, PASSWORD, **FAST))
    assert document["version"] == 1
    assert document["kdf"] == "argon2id"
    assert document["aead"] == "AES-256-GCM"
    assert (document["time_cost"], document["memory_cost_kib"], document["parallelism"]) == (1, 256, 1)
    assert len(base64.b64decode(document["salt"])) == 16
    assert len(base64.b64decode(document["nonce"])) == 12
    # PKCS#8 DER plus the 16-byte GCM tag; the key itself never appears in clear.
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert len(base64.b64decode(document["ciphertext"])) == len(der) + 16


def test_default_kdf_parameters_are_argon2id_t3_m64mib_p2(key):
    document = json.loads(wrap_user_key(key, PASSWORD))
    assert (document["time_cost"], document["memory_cost_kib"], document["parallelism"]) == (3, 65536, 2)


def test_every_wrap_uses_a_fresh_salt_and_nonce(key):
    first, second = (json.loads(wrap_user_key(key, PASSWORD, **FAST)) for _ in range(2))
    assert first["salt"] != second["salt"]
    assert first["nonce"] != second["nonce"]


@pytest.mark.parametrize(
    "field, value", [("time_cost", 2), ("memory_cost_kib", 512), ("nonce", base64.b64encode(bytes(12)).decode())]
)
def test_altered_parameters_do_not_open_because_they_are_authenticated(key, field, value):
    document = json.loads(wrap_user_key(key, PASSWORD, **FAST))
    document[field] = value
    with pytest.raises(WrongPassword):
        unwrap_user_key(json.dumps(document).encode(), PASSWORD)


@pytest.mark.parametrize("change", [{"version": 2}, {"kdf": "pbkdf2"}, {"aead": "AES-128-CBC"}])
def test_unknown_formats_are_refused_rather_than_guessed(key, change):
    document = {**json.loads(wrap_user_key(key, PASSWORD, **FAST)), **change}
    with pytest.raises(ValueError, match="unsupported"):
        unwrap_user_key(json.dumps(document).encode(), PASSWORD)


def test_a_blob_that_is_not_a_wrapped_key_is_refused():
    with pytest.raises(ValueError, match="not a wrapped user key"):
        unwrap_user_key(b'{"version": 1}', PASSWORD)


@pytest.mark.req("11.200(a)(2)-(3)")
def test_password_change_rewraps_the_same_key_and_the_old_password_no_longer_opens_it(key):
    blob = wrap_user_key(key, PASSWORD, **FAST)
    rewrapped = rewrap_user_key(blob, PASSWORD, "Another-Secret-2027?", **FAST)
    assert same_key(unwrap_user_key(rewrapped, "Another-Secret-2027?"), key)
    with pytest.raises(WrongPassword):
        unwrap_user_key(rewrapped, PASSWORD)


def test_rewrap_needs_the_current_password(key):
    blob = wrap_user_key(key, PASSWORD, **FAST)
    with pytest.raises(WrongPassword):
        rewrap_user_key(blob, "guess", "Another-Secret-2027?", **FAST)


def test_organisation_key_round_trips_under_its_passphrase(key):
    pem = encrypt_private_key_pem(key, b"operator passphrase", iterations=1000)
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert same_key(load_encrypted_private_key_pem(pem, b"operator passphrase"), key)
    with pytest.raises(WrongPassword):
        load_encrypted_private_key_pem(pem, b"wrong passphrase")


def test_organisation_key_file_uses_pbkdf2_with_600000_iterations_by_default(key, tmp_path):
    path = tmp_path / "root.key"
    path.write_bytes(encrypt_private_key_pem(key, b"operator passphrase"))
    parsed = subprocess.run(["openssl", "asn1parse", "-in", str(path)], capture_output=True, text=True, check=True)
    assert "PBES2" in parsed.stdout and "PBKDF2" in parsed.stdout and "hmacWithSHA256" in parsed.stdout
    assert ":0927C0" in parsed.stdout  # 600 000
    assert "aes-256-cbc" in parsed.stdout


def test_an_empty_passphrase_is_refused(key):
    with pytest.raises(ValueError):
        encrypt_private_key_pem(key, b"")


def test_openssl_opens_the_organisation_key_with_the_passphrase_only(key, tmp_path):
    path = tmp_path / "system.key"
    path.write_bytes(encrypt_private_key_pem(key, b"operator passphrase", iterations=1000))
    opened = subprocess.run(
        ["openssl", "pkey", "-in", str(path), "-passin", "pass:operator passphrase", "-pubout"],
        capture_output=True, text=True,
    )
    assert opened.returncode == 0, opened.stderr
    public_key = key.public_key()
    assert opened.stdout.encode() == public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    refused = subprocess.run(
        ["openssl", "pkey", "-in", str(path), "-passin", "pass:wrong", "-noout"], capture_output=True, text=True
    )
    assert refused.returncode != 0
