"""The organisation PKI in a PKCS#11 token shared by every app node: nothing of it on a node's disk.

Configured by `pkcs11_module` (the vendor's .so), `pkcs11_token_label` and the PIN from EDMS_PKCS11_PIN.
`edms init` generates the four key pairs inside the token (EC P-256, sensitive, never extractable) and
issues their certificates with the root key there. The certificates live in the token too, as certificate
objects with the CKA_ID of their key:

    CKA_LABEL "edms:<name>"                          the current certificate of root, signing-ca, tsa, system
    CKA_LABEL "edms:retired:<generation>:<name>"     one replaced by a TSA renewal or a root rollover

so every node that can log in to the token reads the same current and retired certificates, and a renewal
made on one node is what the others open when they restart. A replacement stores the new certificates under
staging labels first, then relabels; the private keys of retired certificates stay (their CAs still sign CRLs).
"""
from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from edms.crypto.keywrap import PBKDF2_ITERATIONS
from edms.pki.store import NAMES, PkiError, PkiStore
from edms.pki.token import Token, TokenConfig, TokenError, TokenKey, token_for

if TYPE_CHECKING:
    from edms.config import Settings

LABEL_PREFIX = "edms:"
RETIRED_PREFIX = "edms:retired:"
STAGED_PREFIX = "edms:staged:"


def token_config(settings: Settings) -> TokenConfig:
    return TokenConfig(settings.pkcs11_module, settings.pkcs11_token_label, settings.pkcs11_pin)


def open_token(settings: Settings) -> None:
    """Log in to the configured token now: a wrong module, label or PIN stops start-up (PkiError)."""
    try:
        token_for(token_config(settings)).open()
    except TokenError as exc:
        raise PkiError(str(exc)) from None


class HsmPkiStore(PkiStore):
    def __init__(self, token: Token) -> None:
        super().__init__()
        self.token = token
        self._read: dict[str, tuple[bytes, x509.Certificate]] | None = None  # read once per store; install renews

    @classmethod
    def for_settings(cls, settings: Settings) -> HsmPkiStore:
        if not settings.pkcs11_token_label:
            raise PkiError("pkcs11_module is configured but pkcs11_token_label is empty (EDMS_PKCS11_TOKEN_LABEL)")
        return cls(token_for(token_config(settings)))

    @property
    def location(self) -> str:
        return f"{self.token.config.describe()} (keys generated in the token, never extractable)"

    def _objects(self) -> dict[str, tuple[bytes, x509.Certificate]]:
        """Every edms certificate in the token by label: (CKA_ID of its key, certificate)."""
        if self._read is None:
            try:
                found = self.token.certificates()
            except TokenError as exc:
                raise PkiError(str(exc)) from None
            self._read = {label: (key_id, x509.load_der_x509_certificate(der))
                          for label, key_id, der in found if label.startswith(LABEL_PREFIX)}
        return self._read

    def exists(self) -> bool:
        objects = self._objects()
        return any(f"{LABEL_PREFIX}{name}" in objects for name in NAMES)

    def _require_complete(self) -> None:
        objects = self._objects()
        missing = [name for name in NAMES if f"{LABEL_PREFIX}{name}" not in objects]
        if len(missing) == len(NAMES):
            raise PkiError(f"the organisation PKI is not in {self.token.config.describe()}: run `edms init`")
        if missing:
            staged = sorted(label for label in objects if label.startswith(STAGED_PREFIX)
                            and label.rsplit(":", 1)[1] in missing)
            hint = (f"; a replacement was interrupted: its new certificates are labelled {', '.join(staged)}"
                    if staged else "")
            raise PkiError(f"the organisation PKI in {self.token.config.describe()} is incomplete (no certificate "
                           f"{', '.join(missing)}){hint}")

    def _current(self, name: str) -> tuple[bytes, x509.Certificate]:
        self._require_complete()
        return self._objects()[f"{LABEL_PREFIX}{name}"]

    def certificate(self, name: str) -> x509.Certificate:
        return self._current(name)[1]

    def private_key(self, name: str) -> ec.EllipticCurvePrivateKey:
        key_id, cert = self._current(name)
        return self._key(key_id, cert)

    def retired_certificates(self, name: str) -> list[x509.Certificate]:
        objects = self._objects()
        labels = sorted((label for label in objects
                         if label.startswith(RETIRED_PREFIX) and label.rsplit(":", 1)[1] == name), reverse=True)
        return [objects[label][1] for label in labels]

    def _find_key(self, cert: x509.Certificate) -> ec.EllipticCurvePrivateKey:
        for label, (key_id, candidate) in self._objects().items():
            if candidate == cert and not label.startswith(STAGED_PREFIX):
                return self._key(key_id, cert)
        raise PkiError(f"no key of {cert.subject.rfc4514_string()} in {self.token.config.describe()}")

    def _key(self, key_id: bytes, cert: x509.Certificate) -> TokenKey:
        public = cert.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise PkiError(f"{cert.subject.rfc4514_string()} has no EC key")
        try:
            return self.token.key(key_id, public)
        except TokenError as exc:
            raise PkiError(str(exc)) from None

    def new_key(self, name: str) -> ec.EllipticCurvePrivateKey:
        key_id = secrets.token_bytes(16)
        try:
            return self.token.generate_key(f"edms-{name}-{key_id.hex()}", key_id)
        except TokenError as exc:
            raise PkiError(str(exc)) from None

    def install(self, pairs: dict[str, tuple[ec.EllipticCurvePrivateKey, x509.Certificate]], now: datetime, *,
                kdf_iterations: int = PBKDF2_ITERATIONS) -> None:
        objects = dict(self._objects())
        self._read = None
        generation = 1 + max((int(label.split(":")[2].split("-", 1)[0]) for label in objects
                              if label.startswith(RETIRED_PREFIX)), default=0)
        prefix = f"{generation:04d}-{now:%Y%m%dT%H%M%SZ}"
        try:
            for name, (key, cert) in pairs.items():
                if not isinstance(key, TokenKey) or key.token is not self.token:
                    raise PkiError(f"the new {name} key was not made in {self.token.config.describe()}")
                self.token.store_certificate(f"{STAGED_PREFIX}{prefix}:{name}", key.key_id,
                                             cert.public_bytes(serialization.Encoding.DER), cert.subject.public_bytes())
            for name in pairs:
                if f"{LABEL_PREFIX}{name}" in objects:
                    self.token.relabel_certificate(f"{LABEL_PREFIX}{name}", f"{RETIRED_PREFIX}{prefix}:{name}")
                self.token.relabel_certificate(f"{STAGED_PREFIX}{prefix}:{name}", f"{LABEL_PREFIX}{name}")
        except TokenError as exc:
            raise PkiError(str(exc)) from None
        finally:
            self._read = None
