"""Signatures, signing keys and certificates, and the records that grant signing rights.

Append-only (triggers refuse UPDATE and DELETE): signatures, identity verifications, policy
acknowledgements, training records. A signing credential is never deleted; only its wrapped key may be
replaced (re-wrapped under a new password, or destroyed at revocation) and its revocation set once.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from edms.db import Base, UTCDateTime


class SigningCredential(Base):
    """A person's ECDSA signing key (wrapped under their own password) and its X.509 certificate."""

    __tablename__ = "signing_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    # Certificate serial numbers have up to 159 bits: kept as lower-case hex.
    serial_hex: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    certificate: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # DER
    subject: Mapped[str] = mapped_column(String(500), nullable=False)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # edms.crypto.keywrap JSON; emptied when the certificate is revoked (the key is destroyed).
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    key_wrapped_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revocation_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def serial_number(self) -> int:
        return int(self.serial_hex, 16)


class Signature(Base):
    """One signed act: the manifest exactly as signed, its detached CMS, and the RFC 3161 time-stamp
    response over the CMS signature value. The other columns repeat manifest fields for queries;
    verification checks that they agree."""

    __tablename__ = "signatures"
    __table_args__ = (UniqueConstraint("version_id", "step", "signer_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signature_id: Mapped[str] = mapped_column(String(36), nullable=False, unique=True)  # UUID, in the manifest
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), nullable=False, index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("document_versions.id"), nullable=False, index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    step: Mapped[str] = mapped_column(String(64), nullable=False)
    meaning: Mapped[str] = mapped_column(String(32), nullable=False)
    signer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    credential_id: Mapped[int] = mapped_column(ForeignKey("signing_credentials.id"), nullable=False)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    comment: Mapped[str | None] = mapped_column(Text)
    manifest: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    cms: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # detached CMS SignedData (DER)
    timestamp_response: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)  # RFC 3161 TimeStampResp (DER)
    timestamped_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # SHA-256 of the signed-in session's id: the first signing of a session asks for both components
    # (21 CFR 11.200(a)(1)). Null over the API, which always asks for both.
    session_ref: Mapped[str | None] = mapped_column(String(64), index=True)


class IdentityVerification(Base):
    """A second administrator's record that the person's identity was verified (21 CFR 11.100(b))."""

    __tablename__ = "identity_verifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    verified_by: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    method: Mapped[str] = mapped_column(String(200), nullable=False)
    evidence: Mapped[str] = mapped_column(Text, nullable=False)


class PolicyAcknowledgement(Base):
    """The person read and accepted this exact text of the e-signature policy (21 CFR 11.10(j))."""

    __tablename__ = "signature_policy_acknowledgements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    policy_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    acknowledged_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class TrainingRecord(Base):
    """Training for signing in a role, for one document type or (type null) all of them (21 CFR 11.10(i))."""

    __tablename__ = "training_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    document_type: Mapped[str | None] = mapped_column(String(64))
    course: Mapped[str] = mapped_column(String(200), nullable=False)
    trained_on: Mapped[date] = mapped_column(Date, nullable=False)
    valid_until: Mapped[date] = mapped_column(Date, nullable=False)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class TotpEnrolment(Base):
    """A shared secret for RFC 6238 codes. Usable once confirmed with a first code; a newer confirmed
    enrolment replaces it. `last_counter` refuses a code that was used before."""

    __tablename__ = "totp_enrolments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    # Sealed under the server key (edms.signatures.totp_secrets); the column keeps its first name.
    sealed_secret: Mapped[str] = mapped_column("secret_base32", String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_counter: Mapped[int | None] = mapped_column(BigInteger)
