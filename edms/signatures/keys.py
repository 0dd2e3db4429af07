"""Signing keys and certificates: one ECDSA key per person, wrapped under that person's own password.

A key and its certificate (issued by the organisation's signing CA) are created only when the person
proves a password they chose: at their first signature, never while an administrator-set password is in
force. Nobody else (an administrator, the database owner) can open the key, so only its owner can sign
(21 CFR 11.200(a)(2)-(3)). A password change re-wraps the key; an administrator's reset or a deactivation
revokes the certificate and destroys the wrapped key (11.300(c)); earlier signatures stay valid because
their time-stamps prove they were made before the revocation.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.audit import AuditContext, record
from edms.config import PasswordPolicy
from edms.crypto.keywrap import WrongPassword, rewrap_user_key, unwrap_user_key, wrap_user_key
from edms.crypto.pki import build_crl, generate_private_key, issue_user_certificate
from edms.errors import N_
from edms.pki.store import ROOT, SIGNING_CA, PkiError, PkiStore, SystemSigner, TrustAnchors, system_signer
from edms.signatures.errors import SigningFailed
from edms.signatures.models import SigningCredential
from edms.signatures.verdict import subject_identity  # noqa: F401 (moved there; imported from here too)
from edms.timeutil import isoformat_utc, utc_now
from edms.users.models import User

# A published CRL is valid this long and re-issued (with the same entries) once this old.
CRL_VALIDITY = timedelta(days=7)
CRL_REISSUE_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class SigningAuthority:
    """The organisation's side of every signature: the signing CA, the TSA and what verifiers trust."""

    ca_key: ec.EllipticCurvePrivateKey
    ca_cert: x509.Certificate
    trust: TrustAnchors
    timestamp: Callable[[bytes], bytes]  # SHA-256 digest -> DER TimeStampResp
    # The root's CRL as of a moment (the root revokes nothing, and says so): the validation data a signed
    # PDF carries for the signing CA and the TSA, so that its signatures stay verifiable (PAdES B-LT).
    root_crl: Callable[[datetime], x509.CertificateRevocationList] | None = None

    @property
    def organisation(self) -> str:
        names = self.ca_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        return str(names[0].value) if names else ""


def signing_authority(settings, signer: Callable[[], SystemSigner] | None = None) -> SigningAuthority:
    """The configured signing CA and TSA, opened now. Opening the CA key is deliberately slow (PBKDF2): the
    caller keeps what it opened (`edms.application.services.Services` does, once per process)."""
    store = PkiStore.for_settings(settings)
    try:
        system = signer() if signer is not None else system_signer(settings)
        root_key, root_cert = store.private_key(ROOT), store.certificate(ROOT)
        return SigningAuthority(store.private_key(SIGNING_CA), store.certificate(SIGNING_CA),
                                system.trust, system.timestamp,
                                lambda now: build_crl(root_cert, root_key, [], now, now + CRL_VALIDITY))
    except PkiError as exc:
        raise SigningFailed(N_("The organisation PKI is not available: %(reason)s"), reason=str(exc)) from exc



def certificate_of(credential: SigningCredential) -> x509.Certificate:
    return x509.load_der_x509_certificate(credential.certificate)


def _names_user(cert: x509.Certificate, user: User) -> bool:
    return subject_identity(cert) == {"printed_name": user.printed_name, "username": user.username,
                                      "user_id": str(user.id)}


def current_credential(session: Session, user: User, now: datetime | None = None) -> SigningCredential | None:
    """The person's newest unrevoked, unexpired credential."""
    return session.scalar(
        select(SigningCredential)
        .where(SigningCredential.user_id == user.id, SigningCredential.revoked_at.is_(None),
               SigningCredential.not_after > (now or utc_now()))
        .order_by(SigningCredential.id.desc())
        .limit(1)
    )


def _wrap_parameters(policy: PasswordPolicy) -> dict[str, int]:
    # The key-derivation cost of the login password hashes ([password] argon2_* settings).
    return {"time_cost": policy.argon2_time_cost, "memory_cost_kib": policy.argon2_memory_kib,
            "parallelism": policy.argon2_parallelism}


def issue_credential(session: Session, ctx: AuditContext, authority: SigningAuthority, policy: PasswordPolicy,
                     user: User, password: str) -> tuple[SigningCredential, ec.EllipticCurvePrivateKey]:
    """A new key pair and certificate, the key wrapped under `password`. The caller has just verified that
    `password` is the person's own (never one an administrator set)."""
    now = utc_now()
    key = generate_private_key()
    cert = issue_user_certificate(
        authority.ca_cert, authority.ca_key, key.public_key(), printed_name=user.printed_name,
        username=user.username, user_id=str(user.id), org_name=authority.organisation, now=now,
    )
    credential = SigningCredential(
        user_id=user.id, serial_hex=format(cert.serial_number, "x"), certificate=cert.public_bytes(Encoding.DER),
        subject=cert.subject.rfc4514_string(), issued_at=now, not_after=cert.not_valid_after_utc,
        wrapped_key=wrap_user_key(key, password, **_wrap_parameters(policy)), key_wrapped_at=now,
    )
    session.add(credential)
    session.flush()
    record(session, ctx, "signature.certificate_issued", "user", user.id, changes={
        "certificate_serial": {"old": None, "new": credential.serial_hex},
        "certificate_subject": {"old": None, "new": credential.subject},
        "certificate_not_after": {"old": None, "new": isoformat_utc(credential.not_after)},
    })
    return credential, key


def open_signing_key(session: Session, ctx: AuditContext, authority: SigningAuthority, policy: PasswordPolicy,
                     user: User, password: str) -> tuple[SigningCredential, ec.EllipticCurvePrivateKey]:
    """The person's signing key, opened with the password they just proved; a new one if they have none,
    if their certificate no longer names them as they are now, or if the key no longer opens."""
    credential = current_credential(session, user)
    if credential is not None and not _names_user(certificate_of(credential), user):
        revoke(session, ctx, user, credential, "superseded: the printed name or user name changed")
        credential = None
    if credential is not None:
        try:
            return credential, unwrap_user_key(credential.wrapped_key, password)
        except (WrongPassword, ValueError):
            revoke(session, ctx, user, credential, "the signing key does not open with the account's password")
    return issue_credential(session, ctx, authority, policy, user, password)


def _effective_revocation_time(now: datetime) -> datetime:
    # CRLs state times in whole seconds: rounding up keeps a signature time-stamped in the same second,
    # just before the revocation, valid. No new signature can use the certificate meanwhile.
    return now if not now.microsecond else now.replace(microsecond=0) + timedelta(seconds=1)


def revoke(session: Session, ctx: AuditContext, user: User, credential: SigningCredential, reason: str) -> None:
    credential.revoked_at = _effective_revocation_time(utc_now())
    credential.revocation_reason = reason
    credential.wrapped_key = b""  # the private key is destroyed with its certificate
    record(session, ctx, "signature.certificate_revoked", "user", user.id, reason=reason, changes={
        "certificate_serial": {"old": credential.serial_hex, "new": None},
        "revoked_at": {"old": None, "new": isoformat_utc(credential.revoked_at)},
    })


def revoke_all(session: Session, ctx: AuditContext, user: User, reason: str) -> None:
    credentials = session.scalars(
        select(SigningCredential).where(SigningCredential.user_id == user.id, SigningCredential.revoked_at.is_(None))
    ).all()
    for credential in credentials:
        revoke(session, ctx, user, credential, reason)


def rewrap(session: Session, ctx: AuditContext, policy: PasswordPolicy, user: User, old: str, new: str) -> None:
    """After the person changed their own password: the same key under the new one."""
    credentials = session.scalars(
        select(SigningCredential).where(SigningCredential.user_id == user.id, SigningCredential.revoked_at.is_(None))
    ).all()
    for credential in credentials:
        try:
            credential.wrapped_key = rewrap_user_key(credential.wrapped_key, old, new, **_wrap_parameters(policy))
        except (WrongPassword, ValueError):
            revoke(session, ctx, user, credential, "the signing key does not open with the account's password")
            continue
        credential.key_wrapped_at = utc_now()
        record(session, ctx, "signature.key_rewrapped", "user", user.id,
               changes={"certificate_serial": {"old": credential.serial_hex, "new": credential.serial_hex}})


_credentials = SigningCredential.__table__
REVOKED_COLUMNS = (_credentials.c.serial_hex, _credentials.c.revoked_at)
_REVOKED = select(*REVOKED_COLUMNS).where(_credentials.c.revoked_at.is_not(None)).order_by(_credentials.c.id)


def revocations(session: Session) -> list[tuple[int, datetime]]:
    """(serial, revocation time) of every revoked certificate, oldest first (one Core statement, built once)."""
    return revocations_of(session.connection().execute(_REVOKED).all())


def revocations_of(rows: Sequence[Sequence[Any]]) -> list[tuple[int, datetime]]:
    """The revocation records from rows of (serial_hex, revoked_at) read in that order, as `revocations` gives them
    (a page may read them within its own statement: edms.signatures.record_state)."""
    return [(int(serial, 16), revoked_at) for serial, revoked_at in rows if revoked_at is not None]


class RevocationLists:
    """The signing CA's CRLs as issued: the same CRL is served until it is a day old. One per `Services`."""

    def __init__(self) -> None:
        self._issued: dict[tuple[bytes, tuple[tuple[int, datetime], ...]], x509.CertificateRevocationList] = {}
        self._lock = threading.Lock()

    def current(self, authority: SigningAuthority, revoked: Sequence[tuple[int, datetime]],
                now: datetime | None = None) -> x509.CertificateRevocationList:
        now = now or utc_now()
        key = (authority.ca_cert.fingerprint(hashes.SHA256()), tuple(revoked))
        with self._lock:
            crl = self._issued.get(key)
            if crl is None or now - crl.last_update_utc >= CRL_REISSUE_AFTER:
                crl = self._issued[key] = build_crl(authority.ca_cert, authority.ca_key, revoked, now,
                                                    now + CRL_VALIDITY)
            return crl


def revocation_list(authority: SigningAuthority, revoked: Sequence[tuple[int, datetime]],
                    now: datetime | None = None) -> x509.CertificateRevocationList:
    """A CRL for exactly these revocations, issued now."""
    now = now or utc_now()
    return build_crl(authority.ca_cert, authority.ca_key, revoked, now, now + CRL_VALIDITY)
