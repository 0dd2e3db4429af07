"""The organisation's PKI: created once by `edms init`, loaded to sign and to time-stamp.

By default (one node) `<data_dir>/pki/` holds each certificate as PEM and each private key as encrypted PKCS#8 PEM under the
configured passphrase: never in the database (someone who can rewrite the audit trail must not also
hold the key that signs its checkpoints) and never in the repository. `openssl` reads every file.
With `pkcs11_module` configured the keys are generated in, and never leave, an HSM shared by every node, and
the certificates are kept there too (`edms.pki.hsm`).
"""
from __future__ import annotations

import os
import secrets
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from edms.crypto.cms import sign_detached
from edms.crypto.keywrap import PBKDF2_ITERATIONS, WrongPassword, encrypt_private_key_pem, load_encrypted_private_key_pem
from edms.crypto.pki import bootstrap_pki, generate_private_key
from edms.crypto.tsa import make_timestamp_response, request_external_timestamp
from edms.timeutil import utc_now

if TYPE_CHECKING:
    from edms.config import Settings

PKI_DIRNAME = "pki"
# Certificates and keys replaced by a TSA renewal or a root rollover (edms.pki.lifecycle): kept, because
# earlier signatures and time-stamps chain to them and their CAs still issue CRLs until they expire.
RETIRED_DIRNAME = "retired"
ROOT, SIGNING_CA, TSA, SYSTEM = "root", "signing-ca", "tsa", "system"
NAMES = (ROOT, SIGNING_CA, TSA, SYSTEM)
# The internal TSA's policy: an OID under 2.25, derived from a UUID (ITU-T X.667), so no registration is needed.
INTERNAL_TSA_POLICY = "2.25.140152764712307212962455926848738401549"
EXTERNAL_TSA_TIMEOUT_SECONDS = 10.0


class PkiError(RuntimeError):
    """The PKI is missing, incomplete, or its passphrase does not open it; the message says what to do."""


@dataclass(frozen=True)
class TrustAnchors:
    """What a verifier trusts: the organisation's root, the one certificate allowed to sign as the system,
    and the roots of the time-stamping authority (the same root unless an external TSA is configured)."""

    roots: tuple[x509.Certificate, ...]
    system_cert: x509.Certificate
    tsa_roots: tuple[x509.Certificate, ...]


class InternalTsa:
    """The organisation's RFC 3161 time-stamping authority, run in-process with the TSA key."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, chain: tuple[x509.Certificate, ...]):
        self._key, self._cert, self._chain = key, cert, chain

    def timestamp(self, data_digest: bytes, *, nonce: int | None = None, now: datetime | None = None) -> bytes:
        """A DER TimeStampResp over a SHA-256 digest. Serial numbers are random 127-bit integers: unique
        without a counter shared between processes."""
        return make_timestamp_response(
            self._key, self._cert, self._chain,
            message_imprint=data_digest, serial=secrets.randbits(127) + 1, gen_time=now or utc_now(),
            nonce=nonce, policy_oid=INTERNAL_TSA_POLICY,
        )


class SystemSigner:
    """Signs as the system (detached CMS) and obtains time-stamps, internal or from `tsa_url`."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, tsa: InternalTsa,
                 trust: TrustAnchors, *, tsa_url: str = "") -> None:
        self._key, self._cert, self._tsa, self._tsa_url = key, cert, tsa, tsa_url
        self.trust = trust

    def sign(self, data: bytes) -> bytes:
        return sign_detached(self._key, self._cert, data)

    def timestamp(self, data_digest: bytes) -> bytes:
        if self._tsa_url:
            return request_external_timestamp(self._tsa_url, data_digest, EXTERNAL_TSA_TIMEOUT_SECONDS)
        return self._tsa.timestamp(data_digest)


class PkiStore(ABC):
    """The organisation's four key pairs and their certificates, current and retired, wherever they are kept:
    encrypted files in the data directory (`FilePkiStore`, one node) or a PKCS#11 token (`edms.pki.hsm`,
    several nodes). Everything else asks this interface, never which store it is."""

    def __init__(self) -> None:
        self._opened_keys: dict[bytes, ec.EllipticCurvePrivateKey] = {}  # by certificate fingerprint (key_of)

    @classmethod
    def for_settings(cls, settings: Settings) -> PkiStore:
        """The token when `pkcs11_module` is configured, else the encrypted files in <data_dir>/pki/."""
        if settings.pkcs11_module:
            from edms.pki.hsm import HsmPkiStore

            return HsmPkiStore.for_settings(settings)
        return FilePkiStore(settings.data_dir / PKI_DIRNAME, settings.pki_passphrase)

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the keys are, for messages (a directory, or a token's label and module)."""

    @abstractmethod
    def exists(self) -> bool:
        """Has `edms init` created the PKI here (complete or not)?"""

    @abstractmethod
    def certificate(self, name: str) -> x509.Certificate:
        """The current certificate of `name` (ROOT, SIGNING_CA, TSA, SYSTEM)."""

    @abstractmethod
    def private_key(self, name: str) -> ec.EllipticCurvePrivateKey:
        """The private key of the current certificate of `name`."""

    @abstractmethod
    def retired_certificates(self, name: str) -> list[x509.Certificate]:
        """The certificates of `name` replaced by renewals or rollovers, newest first."""

    @abstractmethod
    def new_key(self, name: str) -> ec.EllipticCurvePrivateKey:
        """A fresh EC P-256 key for `name`, made where this store keeps keys (in the token, for an HSM)."""

    @abstractmethod
    def install(self, pairs: dict[str, tuple[ec.EllipticCurvePrivateKey, x509.Certificate]], now: datetime, *,
                kdf_iterations: int = PBKDF2_ITERATIONS) -> None:
        """Make `pairs` (keys from `new_key`) current; the ones they replace are retired, never deleted. Into an
        empty store (`edms init`): the first four."""

    @abstractmethod
    def _find_key(self, cert: x509.Certificate) -> ec.EllipticCurvePrivateKey:
        """The private key of a current or retired certificate, or PkiError."""

    def create(self, organisation: str, *, now: datetime | None = None,
               kdf_iterations: int = PBKDF2_ITERATIONS) -> bool:
        """Create the PKI unless it exists (then nothing changes, and False is returned)."""
        if self.exists():
            self._require_complete()
            return False
        self._check_can_create()
        keys = tuple(self.new_key(name) for name in (ROOT, SIGNING_CA, TSA, SYSTEM))
        material = bootstrap_pki(organisation, now or utc_now(), keys=keys)
        self.install({
            ROOT: (material.root_key, material.root_cert),
            SIGNING_CA: (material.intermediate_key, material.intermediate_cert),
            TSA: (material.tsa_key, material.tsa_cert),
            SYSTEM: (material.system_key, material.system_cert),
        }, now or utc_now(), kdf_iterations=kdf_iterations)
        return True

    def _check_can_create(self) -> None:  # noqa: B027 (most stores need nothing more)
        """Raise PkiError when something the creation needs is missing (a passphrase)."""

    @abstractmethod
    def _require_complete(self) -> None:
        """PkiError unless every current certificate and key is there."""

    def trust_anchors(self, tsa_ca_file: str = "") -> TrustAnchors:
        """The current root and every root it replaced in a rollover: what was signed under an earlier
        root is still judged at its own time-stamped moment."""
        roots = (self.certificate(ROOT), *self.retired_certificates(ROOT))
        tsa_roots = tuple(x509.load_pem_x509_certificates(Path(tsa_ca_file).read_bytes())) if tsa_ca_file else roots
        return TrustAnchors(roots=roots, system_cert=self.certificate(SYSTEM), tsa_roots=tsa_roots)

    def key_of(self, cert: x509.Certificate) -> ec.EllipticCurvePrivateKey:
        """The private key of a current or retired certificate (a CA's, to issue its CRL); opened once per
        store (opening a file key is deliberately slow)."""
        fingerprint = cert.fingerprint(hashes.SHA256())
        if fingerprint not in self._opened_keys:
            self._opened_keys[fingerprint] = self._find_key(cert)
        return self._opened_keys[fingerprint]

    def internal_tsa(self) -> InternalTsa:
        return InternalTsa(self.private_key(TSA), self.certificate(TSA), (self.certificate(ROOT),))

    def system_signer(self, *, tsa_url: str = "", tsa_ca_file: str = "") -> SystemSigner:
        return SystemSigner(self.private_key(SYSTEM), self.certificate(SYSTEM), self.internal_tsa(),
                            self.trust_anchors(tsa_ca_file), tsa_url=tsa_url)


class FilePkiStore(PkiStore):
    """`<directory>/` holds each certificate as PEM and each private key as encrypted PKCS#8 PEM; replaced
    ones under `retired/`, their names prefixed by a generation number and the time of the replacement."""

    def __init__(self, directory: Path, passphrase: str) -> None:
        super().__init__()
        self.directory = Path(directory)
        self._passphrase = passphrase.encode("utf-8")

    @property
    def location(self) -> str:
        return f"{self.directory} (keys encrypted under pki_passphrase)"

    @staticmethod
    def cert_file(name: str) -> str:
        return f"{name}.cert.pem"

    @staticmethod
    def key_file(name: str) -> str:
        return f"{name}.key.pem"

    def exists(self) -> bool:
        return self.directory.is_dir()

    def _check_can_create(self) -> None:
        if not self._passphrase:
            raise PkiError("no PKI passphrase configured: set pki_passphrase (EDMS_PKI_PASSPHRASE)")

    def new_key(self, name: str) -> ec.EllipticCurvePrivateKey:
        return generate_private_key()

    def install(self, pairs: dict[str, tuple[ec.EllipticCurvePrivateKey, x509.Certificate]], now: datetime, *,
                kdf_iterations: int = PBKDF2_ITERATIONS) -> None:
        if not self.exists():
            self._create_directory(pairs, kdf_iterations)
            return
        retired = self.directory / RETIRED_DIRNAME
        retired.mkdir(mode=0o700, exist_ok=True)
        # A generation number first, so that the names sort in the order of the replacements (newest last).
        generation = 1 + max((int(path.name.split("-", 1)[0]) for path in retired.glob("*.cert.pem")
                              if path.name.split("-", 1)[0].isdigit()), default=0)
        prefix = f"{generation:04d}-{now:%Y%m%dT%H%M%SZ}"
        staged = []
        for name, (key, cert) in pairs.items():
            cert_tmp = self.directory / f".{name}.cert.pem.new"
            key_tmp = self.directory / f".{name}.key.pem.new"
            cert_tmp.unlink(missing_ok=True)
            key_tmp.unlink(missing_ok=True)
            cert_tmp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            _write_private(key_tmp, encrypt_private_key_pem(key, self._passphrase, iterations=kdf_iterations))
            staged.append((name, cert_tmp, key_tmp))
        for name, cert_tmp, key_tmp in staged:
            for current, tmp in ((self.cert_file(name), cert_tmp), (self.key_file(name), key_tmp)):
                (self.directory / current).rename(retired / f"{prefix}-{current}")
                tmp.rename(self.directory / current)

    def _create_directory(self, pairs: dict[str, tuple[ec.EllipticCurvePrivateKey, x509.Certificate]],
                          kdf_iterations: int) -> None:
        """Written to a temporary directory and renamed into place, so a crash never leaves half a PKI."""
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        partial = self.directory.with_name(f"{self.directory.name}.partial-{secrets.token_hex(4)}")
        partial.mkdir(mode=0o700)
        try:
            for name, (key, cert) in pairs.items():
                (partial / self.cert_file(name)).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
                _write_private(partial / self.key_file(name),
                               encrypt_private_key_pem(key, self._passphrase, iterations=kdf_iterations))
            partial.rename(self.directory)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise

    def certificate(self, name: str) -> x509.Certificate:
        self._require_complete()
        return x509.load_pem_x509_certificate((self.directory / self.cert_file(name)).read_bytes())

    def private_key(self, name: str) -> ec.EllipticCurvePrivateKey:
        self._require_complete()
        try:
            return load_encrypted_private_key_pem((self.directory / self.key_file(name)).read_bytes(), self._passphrase)
        except WrongPassword as exc:
            raise PkiError(f"the configured pki_passphrase does not open {self.directory / self.key_file(name)}") from exc

    def retired_certificates(self, name: str) -> list[x509.Certificate]:
        retired = self.directory / RETIRED_DIRNAME
        files = sorted(retired.glob(f"*-{self.cert_file(name)}"), reverse=True) if retired.is_dir() else []
        return [x509.load_pem_x509_certificate(path.read_bytes()) for path in files]

    def _find_key(self, cert: x509.Certificate) -> ec.EllipticCurvePrivateKey:
        retired = self.directory / RETIRED_DIRNAME
        candidates = [self.directory / self.cert_file(name) for name in NAMES]
        candidates += sorted(retired.glob("*.cert.pem")) if retired.is_dir() else []
        for path in candidates:
            if path.is_file() and x509.load_pem_x509_certificate(path.read_bytes()) == cert:
                key_path = path.with_name(path.name.removesuffix(".cert.pem") + ".key.pem")
                try:
                    return load_encrypted_private_key_pem(key_path.read_bytes(), self._passphrase)
                except WrongPassword as exc:
                    raise PkiError(f"the configured pki_passphrase does not open {key_path}") from exc
        raise PkiError(f"no key of {cert.subject.rfc4514_string()} in {self.directory}")

    def _require_complete(self) -> None:
        if not self.exists():
            raise PkiError(f"the organisation PKI is not in {self.directory}: run `edms init`")
        missing = [
            file for name in NAMES for file in (self.cert_file(name), self.key_file(name))
            if not (self.directory / file).is_file()
        ]
        if missing:
            raise PkiError(f"the organisation PKI in {self.directory} is incomplete (missing {', '.join(missing)}); "
                           "restore it from the backup")


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def system_signer(settings: Settings) -> SystemSigner:
    """The configured system signer, opened now. Opening a key is deliberately slow (PBKDF2): the caller
    keeps what it opened (`edms.application.services.Services` does, once per process)."""
    store = PkiStore.for_settings(settings)
    return store.system_signer(tsa_url=settings.tsa_url, tsa_ca_file=settings.tsa_ca_file)


_FileState = tuple[tuple[str, int, int, int], ...]
_ANCHORS: dict[Path, tuple[tuple[_FileState, _FileState], TrustAnchors | None]] = {}


def trust_anchors(settings: Settings) -> TrustAnchors | None:
    """What verification trusts, or None where no PKI was created yet (then any checkpoint fails to verify).

    With the PKI in files, the anchors read are kept for the process and read again as soon as any file of
    the PKI directory or the TSA's CA file changes (a rollover by another process included): the key is
    every file's name, size, modification and change time."""
    if settings.pkcs11_module:
        return _read_anchors(settings)
    directory = settings.data_dir / PKI_DIRNAME
    state = (_files_state(directory), _files_state(Path(settings.tsa_ca_file)) if settings.tsa_ca_file else ())
    kept = _ANCHORS.get(directory)
    if kept is not None and kept[0] == state:
        return kept[1]
    anchors = _read_anchors(settings)
    _ANCHORS[directory] = (state, anchors)
    return anchors


def _read_anchors(settings: Settings) -> TrustAnchors | None:
    store = PkiStore.for_settings(settings)
    if not store.exists():
        return None
    return store.trust_anchors(settings.tsa_ca_file)


def _files_state(path: Path) -> _FileState:
    """Name, size and times of `path` (a file) or of every file under it (a directory); () if absent."""
    try:
        if not path.is_dir():
            stat = path.stat()
            return ((path.name, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns),)
        return tuple(sorted((name, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
                            for name, stat in _files_under(str(path))))
    except FileNotFoundError:
        return ()


def _files_under(directory: str) -> Iterator[tuple[str, os.stat_result]]:
    """Every file under `directory` with its stat, as `Path.rglob("*")` and `is_file()` find them (symbolic
    links to files followed, links to directories not entered), read with os.scandir: this runs on every
    page that shows a signature, and pathlib's walk costs several times as much."""
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_file():
                yield entry.path, entry.stat()
            elif entry.is_dir() and not entry.is_symlink():
                yield from _files_under(entry.path)
