"""What the signing ceremony is given: the credentials the signer re-enters, and what the organisation
provides to every signature (password policy, signing authority, signature policy, record gates)."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from edms.config import PasswordPolicy
from edms.definitions import LocalizedText
from edms.documents import models as dm
from edms.documents.blobstore import BlobStore
from edms.signatures.gates import SignaturePolicy, load_policy
from edms.signatures.keys import SigningAuthority, signing_authority
from edms.signatures.totp_secrets import sealing_key


@dataclass(frozen=True)
class Credentials:
    """What the signer re-enters. `session_ref` identifies the signed-in session (see `session_ref_for`);
    None (the API) means every signature needs both components."""

    password: str
    username: str | None = None
    totp_code: str | None = None
    session_ref: str | None = None


def session_ref_for(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


RecordGate = Callable[[Session, dm.Document], list[LocalizedText]]


@dataclass(frozen=True)
class SigningEnvironment:
    """What the organisation provides to every signature, from the settings."""

    password_policy: PasswordPolicy
    authority: Callable[[], SigningAuthority]  # opened only when a signature is actually made
    policy: SignaturePolicy
    totp_roles: frozenset[str] = frozenset()
    # Prerequisites outside the document (a case's regime): each returns why it may not be signed yet.
    record_gates: tuple[RecordGate, ...] = ()
    totp_key: bytes = b""  # the server key TOTP secrets are sealed under (edms.signatures.totp_secrets)
    # Where the versions' signed PDFs are stored; None: signatures are made without touching the PDF.
    blobs: BlobStore | None = None

    @classmethod
    def from_settings(cls, settings, record_gates: tuple[RecordGate, ...] = (), *,
                      authority: Callable[[], SigningAuthority] | None = None,
                      blobs: BlobStore | None = None) -> SigningEnvironment:
        """`authority` opens the signing CA (the `Services` object keeps it open); by default it is opened
        when a signature is made."""
        return cls(settings.password, authority or (lambda: signing_authority(settings)), load_policy(),
                   frozenset(settings.totp_roles), record_gates, sealing_key(settings), blobs)
