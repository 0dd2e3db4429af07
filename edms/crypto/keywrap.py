"""Private keys at rest.

Organisation keys (root, signing CA, TSA, system) are stored as standard encrypted PKCS#8 PEM under an
operator passphrase, so `openssl pkey` can open them. A user's signing key is wrapped under that user's
own password (Argon2id + AES-256-GCM), so only its owner can sign with it: 21 CFR 11.200(a)(2)-(3).
"""
from __future__ import annotations

import base64
import json
import os
from typing import Any

from argon2.low_level import Type, hash_secret_raw
from asn1crypto import keys, pem
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

# cryptography's BestAvailableEncryption (like openssl's default) uses 2048 PBKDF2 rounds; OWASP's
# 2023 figure for PBKDF2-HMAC-SHA256 makes guessing the passphrase of a stolen key file expensive.
PBKDF2_ITERATIONS = 600_000

WRAP_VERSION = 1
# Argon2id defaults for user keys (the login password hashes use the same figures).
TIME_COST = 3
MEMORY_COST_KIB = 65536
PARALLELISM = 2
_KDF = "argon2id"
_AEAD = "AES-256-GCM"
_HEADER_FIELDS = ("version", "kdf", "salt", "time_cost", "memory_cost_kib", "parallelism", "aead", "nonce")


class WrongPassword(Exception):
    """The password or passphrase does not open this key."""


def encrypt_private_key_pem(
    key: ec.EllipticCurvePrivateKey, passphrase: bytes, *, iterations: int = PBKDF2_ITERATIONS
) -> bytes:
    """Encrypted PKCS#8 PEM (PBES2: PBKDF2-HMAC-SHA256 and AES-256-CBC), as RFC 8018 defines it."""
    if not passphrase:
        raise ValueError("an empty passphrase does not protect a key")
    salt, iv = os.urandom(16), os.urandom(16)
    kek = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=iterations).derive(passphrase)
    plain = _pkcs8_der(key)  # PrivateKeyInfo, the plaintext RFC 5958 encrypts
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    encryptor = Cipher(algorithms.AES(kek), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize()
    info = keys.EncryptedPrivateKeyInfo(
        {
            "encryption_algorithm": {
                "algorithm": "pbes2",
                "parameters": {
                    "key_derivation_func": {
                        "algorithm": "pbkdf2",
                        "parameters": {
                            "salt": {"specified": salt},
                            "iteration_count": iterations,
                            "prf": {"algorithm": "sha256"},
                        },
                    },
                    "encryption_scheme": {"algorithm": "aes256_cbc", "parameters": iv},
                },
            },
            "encrypted_data": ciphertext,
        }
    )
    armored: bytes = pem.armor("ENCRYPTED PRIVATE KEY", info.dump())  # asn1crypto is untyped
    return armored


def load_encrypted_private_key_pem(data: bytes, passphrase: bytes) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except ValueError as exc:
        # cryptography reports a wrong passphrase and a damaged file with the same exception.
        raise WrongPassword("the passphrase does not open this key file, or the file is damaged") from exc
    return _require_ec(key)


def wrap_user_key(
    key: ec.EllipticCurvePrivateKey,
    password: str,
    *,
    time_cost: int = TIME_COST,
    memory_cost_kib: int = MEMORY_COST_KIB,
    parallelism: int = PARALLELISM,
) -> bytes:
    """A self-describing JSON blob: the PKCS#8 DER of `key`, AES-256-GCM under an Argon2id key of `password`.

    The header (version, KDF, salt, parameters, AEAD, nonce) is the AEAD's associated data, so a blob
    whose parameters were altered does not open (it reports WrongPassword, as it cannot tell the two apart).
    """
    nonce = os.urandom(12)
    header = {
        "version": WRAP_VERSION,
        "kdf": _KDF,
        "salt": _b64(os.urandom(16)),
        "time_cost": time_cost,
        "memory_cost_kib": memory_cost_kib,
        "parallelism": parallelism,
        "aead": _AEAD,
        "nonce": _b64(nonce),
    }
    ciphertext = AESGCM(_password_key(password, header)).encrypt(nonce, _pkcs8_der(key), _canonical(header))
    return _canonical({**header, "ciphertext": _b64(ciphertext)})


def unwrap_user_key(blob: bytes, password: str) -> ec.EllipticCurvePrivateKey:
    """The user's signing key; WrongPassword unless `password` is the one it was wrapped under."""
    try:
        document = json.loads(blob)
        header = {name: document[name] for name in _HEADER_FIELDS}
        ciphertext = _unb64(document["ciphertext"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError("not a wrapped user key") from exc
    if (header["version"], header["kdf"], header["aead"]) != (WRAP_VERSION, _KDF, _AEAD):
        raise ValueError(
            f"unsupported key wrapping: version {header['version']}, {header['kdf']}, {header['aead']}"
        )
    try:
        plain = AESGCM(_password_key(password, header)).decrypt(
            _unb64(header["nonce"]), ciphertext, _canonical(header)
        )
    except InvalidTag:
        raise WrongPassword("the password does not open this signing key") from None
    return _require_ec(serialization.load_der_private_key(plain, password=None))


def rewrap_user_key(
    blob: bytes,
    old_password: str,
    new_password: str,
    *,
    time_cost: int = TIME_COST,
    memory_cost_kib: int = MEMORY_COST_KIB,
    parallelism: int = PARALLELISM,
) -> bytes:
    """The same key under a new password (after a password change), with fresh salt and nonce."""
    return wrap_user_key(
        unwrap_user_key(blob, old_password),
        new_password,
        time_cost=time_cost,
        memory_cost_kib=memory_cost_kib,
        parallelism=parallelism,
    )


def _password_key(password: str, header: dict[str, Any]) -> bytes:
    return hash_secret_raw(
        secret=password.encode("utf-8"),
        salt=_unb64(header["salt"]),
        time_cost=header["time_cost"],
        memory_cost=header["memory_cost_kib"],
        parallelism=header["parallelism"],
        hash_len=32,
        type=Type.ID,
    )


def _pkcs8_der(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _canonical(document: dict[str, object]) -> bytes:
    # ASCII keys and values: sorted keys without whitespace is the RFC 8785 form.
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise TypeError("expected base64 text")
    return base64.b64decode(text, validate=True)


def _require_ec(key: object) -> ec.EllipticCurvePrivateKey:
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"expected an EC private key, got {type(key).__name__}")
    return key
