"""What every use case needs, built once by the app factory or a command: explicit wiring, no registries.

The system signer and the signing authority are opened on first use and then kept for the life of the
`Services` object (opening a key is deliberately slow: PBKDF2), so each process opens them once.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar, cast

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from edms.audit.checkpoints import enable_automatic_checkpoints
from edms.audit.witness import enable_witness
from edms.cases.queries import case_signing_reasons
from edms.cases.regimes import Regime, load_regimes
from edms.config import ConfigError, Settings
from edms.db import make_engine, make_session_factory, reading
from edms.documents.blobstore import BlobStore
from edms.documents.blobstores import open_blob_store
from edms.documents.types import DocumentType, load_document_types
from edms.documents.uploads import UploadLimits
from edms.migrate import check_schema as check_database_schema
from edms.pki.hsm import open_token
from edms.pki.store import SystemSigner, system_signer
from edms.signatures import keys
from edms.signatures.ceremony import SigningEnvironment
from edms.signatures.presentation import current_trust
from edms.signatures.verification import Trust
from edms.users.roles import ROLES

T = TypeVar("T")


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    document_types: dict[str, DocumentType]
    blobs: BlobStore
    upload_limits: UploadLimits
    regimes: dict[str, Regime]
    # Gates outside a document that its signing waits for (a case's regime prerequisites).
    record_gates: tuple[Callable, ...] = ()
    _opened: dict[str, object] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def reading_engine(self) -> Engine:
        """The engine of read-only units of work (a GET): on SQLite, no write lock (edms.db.reading)."""
        return self._open("reading", lambda: reading(self.engine))

    def system_signer(self) -> SystemSigner:
        """The organisation's system key (checkpoints, exports), opened once; `PkiError` without a PKI."""
        return self._open("signer", lambda: system_signer(self.settings))

    def signing_authority(self) -> keys.SigningAuthority:
        """The signing CA and the TSA, opened once; `SigningFailed` without a PKI."""
        return self._open("authority", lambda: keys.signing_authority(self.settings, self.system_signer))

    def revocation_lists(self) -> keys.RevocationLists:
        return self._open("crls", keys.RevocationLists)

    def signing_environment(self) -> SigningEnvironment:
        return SigningEnvironment.from_settings(self.settings, self.record_gates, authority=self.signing_authority,
                                               blobs=self.blobs)

    def trust(self, session: Session, revoked: Sequence[tuple[int, datetime]] | None = None) -> Trust | None:
        """What verification trusts now: the anchors and the revocation records (`revoked`, when already read)."""
        return current_trust(session, self.settings, revoked)

    def _open(self, name: str, opener: Callable[[], T]) -> T:
        with self._lock:
            if name not in self._opened:
                self._opened[name] = opener()
            return cast(T, self._opened[name])


def build_services(settings: Settings, *, check_schema: bool = True) -> Services:
    """The one wiring of the application, for the app factory, the CLI and the demo alike."""
    _check_totp_roles(settings)
    if settings.pkcs11_module:
        open_token(settings)  # a wrong PIN, label or module stops every node and command here (PkiError)
    engine = make_engine(settings.database_url)
    if check_schema:
        check_database_schema(engine)
    # An invalid document type or regime definition stops start-up here, naming the file and field.
    document_types = load_document_types(settings.forms_dir)
    regimes = load_regimes(settings.forms_dir / "regimes", document_types)
    services = Services(
        settings=settings, engine=engine, sessions=make_session_factory(engine), document_types=document_types,
        blobs=open_blob_store(settings, engine, longest_retention_years=longest_retention_years(regimes)),
        upload_limits=UploadLimits(), regimes=regimes,
        record_gates=(partial(case_signing_reasons, types=document_types, regimes=regimes),),
    )
    enable_automatic_checkpoints(services.sessions, every=settings.audit_checkpoint_every,
                                 signer=services.system_signer)
    enable_witness(services.sessions, path=settings.witness_path, signer=services.system_signer)
    return services


def longest_retention_years(regimes: dict[str, Regime]) -> int | None:
    """The longest retention any regime or record type declares: an object store locks a file whose record's
    own retention is not known for this long (the safe side)."""
    years = [rule.years for regime in regimes.values()
             for rule in (regime.retention, *(document.retention for document in regime.documents)) if rule is not None]
    return max(years, default=None)


def retain_until(services: Services, type_key: str, regime_key: str | None, *, now: datetime) -> datetime:
    """The earliest moment a file of a record of this type may be deleted: its regime's retention for the type,
    counted from now (the retention runs from a later moment, so the lock can only be extended, never early)."""
    regime = services.regimes.get(regime_key) if regime_key else None
    rule = regime.retention_of(type_key) if regime is not None else None
    years = rule.years if rule is not None else (longest_retention_years(services.regimes) or 30)
    return now + timedelta(days=366 * years)


def _check_totp_roles(settings: Settings) -> None:
    """The configuration knows no roles (it imports no domain): the roles it names are checked here."""
    unknown = set(settings.totp_roles) - set(ROLES)
    if unknown:
        raise ConfigError(f"totp_roles: unknown role(s) {', '.join(sorted(unknown))}")
