"""Secrets kept in the database sealed under a server key: AES-256-GCM, the key derived with HKDF-SHA256 from
a configured secret, each value bound to what it belongs to (associated data), so that a copy of the table
alone reveals nothing and a value moved to another row does not open."""
from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


class SealBroken(ValueError):
    """A sealed value that does not open under this key and binding."""


def derive_key(secret: str, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"edms sealing: {purpose}".encode()).derive(secret.encode("utf-8"))


def seal(key: bytes, plaintext: bytes, bound_to: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext, bound_to.encode("utf-8"))
    return base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")


def unseal(key: bytes, text: str, bound_to: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], bound_to.encode("utf-8"))
    except (InvalidTag, ValueError) as exc:
        raise SealBroken("the sealed value does not open under this server key") from exc
