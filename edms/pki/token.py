"""The organisation's private keys inside a PKCS#11 token (an HSM; SoftHSM2 in the tests).

A key is generated in the token (EC P-256, `CKA_SENSITIVE`, not `CKA_EXTRACTABLE`, `CKA_TOKEN`) and never
leaves it: `TokenKey` is an `ec.EllipticCurvePrivateKey` whose `sign()` asks the token, so `cryptography`'s
X.509 and CMS builders, the RFC 3161 responder and the PAdES signer use it as they use a key read from a file.
Each process opens one session lazily and shares it between its threads under a lock (PKCS#11 sessions
must not run two operations at once); a process forked after opening opens its own.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any, NoReturn

import pkcs11
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as pkcs11_errors
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

PIN_VARIABLE = "EDMS_PKCS11_PIN"


class TokenError(RuntimeError):
    """The token cannot be used: module, label or PIN wrong, or an operation it refused; the message says which."""


@dataclass(frozen=True)
class TokenConfig:
    module: str
    label: str
    pin: str

    def describe(self) -> str:
        return f"the PKCS#11 token {self.label!r} ({self.module})"


class Token:
    """One logged-in session with a token, opened on first use and shared by the threads of this process."""

    def __init__(self, config: TokenConfig) -> None:
        self.config = config
        self._lock = threading.RLock()
        self._session: Any = None
        self._pid = 0

    def _open(self) -> Any:
        if self._session is not None and self._pid == os.getpid():
            return self._session
        if not self.config.pin:
            raise TokenError(f"no PIN for {self.config.describe()}: set {PIN_VARIABLE} in the environment")
        try:
            library = pkcs11.lib(self.config.module)
            if _LOADED_MODULES.setdefault(self.config.module, os.getpid()) != os.getpid():
                library.reinitialize()  # a forked child initialises the module for itself
                _LOADED_MODULES[self.config.module] = os.getpid()
            token = library.get_token(token_label=self.config.label)
            self._session = token.open(user_pin=self.config.pin, rw=True)
        except pkcs11_errors.PinIncorrect:
            raise TokenError(f"{self.config.describe()} refused the PIN in {PIN_VARIABLE}") from None
        except pkcs11_errors.PinLocked:
            raise TokenError(f"the user PIN of {self.config.describe()} is locked: the security officer must "
                             "unlock it") from None
        except pkcs11_errors.NoSuchToken:
            raise TokenError(f"no token labelled {self.config.label!r} in {self.config.module}") from None
        except (OSError, RuntimeError) as exc:  # the module cannot be loaded (path, architecture)
            raise TokenError(f"{self.config.describe()} cannot be opened: {exc}") from None
        except pkcs11_errors.PKCS11Error as exc:
            raise TokenError(f"{self.config.describe()} cannot be opened: {type(exc).__name__} {exc}") from None
        self._pid = os.getpid()
        return self._session

    def open(self) -> None:
        """Log in now (start-up checks the PIN, so a node with a wrong one never serves)."""
        with self._lock:
            self._open()

    def generate_key(self, label: str, key_id: bytes) -> TokenKey:
        """A new EC P-256 key pair stored in the token; the private half sensitive and not extractable."""
        with self._lock:
            session = self._open()
            parameters = session.create_domain_parameters(
                KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True)
            public, _ = parameters.generate_keypair(
                store=True, label=label, id=key_id,
                public_template={Attribute.VERIFY: True},
                private_template={Attribute.SIGN: True, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                                  Attribute.PRIVATE: True, Attribute.DERIVE: False, Attribute.DECRYPT: False},
            )
            spki = encode_ec_public_key(public)
        loaded = serialization.load_der_public_key(spki)
        assert isinstance(loaded, ec.EllipticCurvePublicKey)
        return TokenKey(self, key_id, loaded)

    def key(self, key_id: bytes, public: ec.EllipticCurvePublicKey) -> TokenKey:
        """The token's private key with this CKA_ID (its public half already known from its certificate)."""
        with self._lock:
            self._private(key_id)  # present, or a TokenError now rather than at the first signature
        return TokenKey(self, key_id, public)

    def sign_digest(self, key_id: bytes, digest: bytes) -> bytes:
        """ECDSA over a digest (CKM_ECDSA: every token has it), as DER (r, s)."""
        with self._lock:
            raw = self._private(key_id).sign(digest, mechanism=Mechanism.ECDSA)
        half = len(raw) // 2
        return utils.encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))

    def private_attributes(self, key_id: bytes) -> dict[str, bool]:
        """CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_NEVER_EXTRACTABLE and CKA_LOCAL of a private key, as the token says."""
        with self._lock:
            key = self._private(key_id)
            return {name: bool(key[attribute]) for name, attribute in (
                ("sensitive", Attribute.SENSITIVE), ("extractable", Attribute.EXTRACTABLE),
                ("never_extractable", Attribute.NEVER_EXTRACTABLE), ("local", Attribute.LOCAL))}

    def export_private_value(self, key_id: bytes) -> bytes:
        """Ask the token for the private value (CKA_VALUE): a sensitive key is refused (TokenError)."""
        with self._lock:
            key = self._private(key_id)
            try:
                return bytes(key[Attribute.VALUE])
            except pkcs11_errors.PKCS11Error as exc:
                raise TokenError(f"{self.config.describe()} refused to export the key: {type(exc).__name__}") from None

    def certificates(self) -> list[tuple[str, bytes, bytes]]:
        """Every certificate object: (CKA_LABEL, CKA_ID, DER)."""
        with self._lock:
            objects = self._open().get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})
            return [(str(obj[Attribute.LABEL]), bytes(obj[Attribute.ID]), bytes(obj[Attribute.VALUE]))
                    for obj in objects]

    def store_certificate(self, label: str, key_id: bytes, der: bytes, subject: bytes) -> None:
        with self._lock:
            self._open().create_object({
                Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.CERTIFICATE_TYPE: pkcs11.CertificateType.X_509,
                Attribute.TOKEN: True, Attribute.PRIVATE: False, Attribute.LABEL: label, Attribute.ID: key_id,
                Attribute.SUBJECT: subject, Attribute.VALUE: der,
            })

    def relabel_certificate(self, old_label: str, new_label: str) -> None:
        with self._lock:
            found = list(self._open().get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE,
                                                   Attribute.LABEL: old_label}))
            if len(found) != 1:
                raise TokenError(f"{len(found)} certificates labelled {old_label!r} in {self.config.describe()}")
            found[0][Attribute.LABEL] = new_label

    def _private(self, key_id: bytes) -> Any:
        try:
            return self._open().get_key(object_class=ObjectClass.PRIVATE_KEY, key_type=KeyType.EC, id=key_id)
        except (pkcs11_errors.NoSuchKey, pkcs11_errors.MultipleObjectsReturned):
            raise TokenError(f"no single private key with CKA_ID {key_id.hex()} in {self.config.describe()}") from None


_TOKENS: dict[TokenConfig, Token] = {}
_LOADED_MODULES: dict[str, int] = {}  # module: the process that initialised it
_TOKENS_LOCK = threading.Lock()


def token_for(config: TokenConfig) -> Token:
    """The process's one session with this token (a PKCS#11 module is loaded once per process)."""
    with _TOKENS_LOCK:
        if config not in _TOKENS:
            _TOKENS[config] = Token(config)
        return _TOKENS[config]


class TokenKey(ec.EllipticCurvePrivateKey):
    """A private key that stays in the token: it signs there; it has no private numbers or bytes to give."""

    def __init__(self, token: Token, key_id: bytes, public: ec.EllipticCurvePublicKey) -> None:
        self.token, self.key_id, self._public = token, key_id, public

    def sign(self, data: bytes | bytearray | memoryview,
             signature_algorithm: ec.EllipticCurveSignatureAlgorithm) -> bytes:
        if not isinstance(signature_algorithm, ec.ECDSA):
            raise TokenError(f"a token key signs with ECDSA only, not {signature_algorithm!r}")
        algorithm = signature_algorithm.algorithm
        if isinstance(algorithm, utils.Prehashed):
            digest = bytes(data)
        else:
            hasher = hashes.Hash(algorithm)
            hasher.update(data)
            digest = hasher.finalize()
        return self.token.sign_digest(self.key_id, digest)

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public

    @property
    def curve(self) -> ec.EllipticCurve:
        return self._public.curve

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def exchange(self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey) -> bytes:
        self._refuse("derive a shared secret")

    def private_numbers(self) -> ec.EllipticCurvePrivateNumbers:
        self._refuse("give its private numbers")

    def private_bytes(self, encoding: serialization.Encoding, format: serialization.PrivateFormat,  # noqa: A002
                      encryption_algorithm: serialization.KeySerializationEncryption) -> bytes:
        self._refuse("be exported")

    def __copy__(self) -> TokenKey:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> TokenKey:
        return self

    def _refuse(self, what: str) -> NoReturn:
        raise TokenError(f"the key {self.key_id.hex()} stays in {self.token.config.describe()}: it cannot {what}")



def forget_sessions() -> None:
    """Close this process's sessions and have each module re-read its tokens (C_Finalize, C_Initialize): for a
    token added or removed while the process runs (the tests' SoftHSM2 tokens, a replaced HSM partition)."""
    with _TOKENS_LOCK:
        _TOKENS.clear()
        modules = set(_LOADED_MODULES)
    for module in modules:
        pkcs11.lib(module).reinitialize()
