"""Electronic signatures: signing credentials, signatures, identity checks, policy acknowledgements,
training records and second-factor enrolments.

Revision ID: 0004_signatures
Revises: 0003_documents
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

from edms.audit.immutability import protect_statements, unprotect_statements
from edms.db import UTCDateTime

revision = "0004_signatures"
down_revision = "0003_documents"
branch_labels = None
depends_on = None

APPEND_ONLY = ("signatures", "identity_verifications", "signature_policy_acknowledgements", "training_records")
# Columns that never change once written; the revocation (and a confirmation) is set once.
CREDENTIAL_FIXED = ("user_id", "serial_hex", "certificate", "subject", "issued_at", "not_after")
CREDENTIAL_ONCE = ("revoked_at", "revocation_reason")
TOTP_FIXED = ("user_id", "secret_base32", "created_at")
TOTP_ONCE = ("confirmed_at",)


def _guard(dialect: str, table: str, fixed: tuple[str, ...], once: tuple[str, ...]) -> list[str]:
    message = f"{table}: only the key wrapping, a revocation or a confirmation may change"
    if dialect == "sqlite":
        changed = " OR ".join([f"NEW.{c} IS NOT OLD.{c}" for c in fixed]
                              + [f"(OLD.{c} IS NOT NULL AND NEW.{c} IS NOT OLD.{c})" for c in once])
        return [f"CREATE TRIGGER {table}_guard BEFORE UPDATE ON {table} WHEN {changed} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"]
    changed = " OR ".join([f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in fixed]
                          + [f"(OLD.{c} IS NOT NULL AND NEW.{c} IS DISTINCT FROM OLD.{c})" for c in once])
    return [
        f"CREATE OR REPLACE FUNCTION edms_{table}_guard() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF {changed} THEN RAISE EXCEPTION '{message}'; END IF; RETURN NEW; END $$",
        f"CREATE TRIGGER {table}_guard BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION edms_{table}_guard()",
    ]


def _fk(table: str, column: str, target: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "signing_credentials",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), _fk("signing_credentials", "user_id", "users"), nullable=False),
        sa.Column("serial_hex", sa.String(64), nullable=False),
        sa.Column("certificate", sa.LargeBinary(), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("not_after", UTCDateTime(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("key_wrapped_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime()),
        sa.Column("revocation_reason", sa.Text()),
        sa.UniqueConstraint("serial_hex", name="uq_signing_credentials_serial_hex"),
    )
    op.create_index("ix_signing_credentials_user_id", "signing_credentials", ["user_id"])
    op.create_table(
        "signatures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("signature_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("document_id", sa.Integer(), _fk("signatures", "document_id", "documents"), nullable=False),
        sa.Column("version_id", sa.Integer(), _fk("signatures", "version_id", "document_versions"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(64), nullable=False),
        sa.Column("meaning", sa.String(32), nullable=False),
        sa.Column("signer_id", sa.Integer(), _fk("signatures", "signer_id", "users"), nullable=False),
        sa.Column("credential_id", sa.Integer(), _fk("signatures", "credential_id", "signing_credentials"), nullable=False),
        sa.Column("signed_at", UTCDateTime(), nullable=False),
        sa.Column("comment", sa.Text()),
        sa.Column("manifest", sa.LargeBinary(), nullable=False),
        sa.Column("cms", sa.LargeBinary(), nullable=False),
        sa.Column("timestamp_response", sa.LargeBinary(), nullable=False),
        sa.Column("timestamped_at", UTCDateTime(), nullable=False),
        sa.Column("session_ref", sa.String(64)),
        sa.UniqueConstraint("signature_id", name="uq_signatures_signature_id"),
        sa.UniqueConstraint("version_id", "step", "signer_id", name="uq_signatures_version_id"),
    )
    for column in ("document_id", "version_id", "signer_id", "session_ref"):
        op.create_index(f"ix_signatures_{column}", "signatures", [column])
    op.create_table(
        "identity_verifications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), _fk("identity_verifications", "user_id", "users"), nullable=False),
        sa.Column("verified_by", sa.Integer(), _fk("identity_verifications", "verified_by", "users"), nullable=False),
        sa.Column("verified_at", UTCDateTime(), nullable=False),
        sa.Column("method", sa.String(200), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
    )
    op.create_index("ix_identity_verifications_user_id", "identity_verifications", ["user_id"])
    op.create_table(
        "signature_policy_acknowledgements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), _fk("signature_policy_acknowledgements", "user_id", "users"), nullable=False),
        sa.Column("policy_sha256", sa.String(64), nullable=False),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_signature_policy_acknowledgements_user_id", "signature_policy_acknowledgements", ["user_id"])
    op.create_table(
        "training_records",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), _fk("training_records", "user_id", "users"), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("document_type", sa.String(64)),
        sa.Column("course", sa.String(200), nullable=False),
        sa.Column("trained_on", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), _fk("training_records", "recorded_by", "users"), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_training_records_user_id", "training_records", ["user_id"])
    op.create_table(
        "totp_enrolments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), _fk("totp_enrolments", "user_id", "users"), nullable=False),
        sa.Column("secret_base32", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime()),
        sa.Column("last_counter", sa.BigInteger()),
    )
    op.create_index("ix_totp_enrolments_user_id", "totp_enrolments", ["user_id"])
    dialect = op.get_bind().dialect.name
    statements = [statement for table in APPEND_ONLY for statement in protect_statements(dialect, table)]
    statements += protect_statements(dialect, "signing_credentials", ("DELETE",))
    statements += protect_statements(dialect, "totp_enrolments", ("DELETE",))
    statements += _guard(dialect, "signing_credentials", CREDENTIAL_FIXED, CREDENTIAL_ONCE)
    statements += _guard(dialect, "totp_enrolments", TOTP_FIXED, TOTP_ONCE)
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    statements = [statement for table in APPEND_ONLY for statement in unprotect_statements(dialect, table)]
    statements += unprotect_statements(dialect, "signing_credentials", ("DELETE",))
    statements += unprotect_statements(dialect, "totp_enrolments", ("DELETE",))
    for table in ("signing_credentials", "totp_enrolments"):
        if dialect == "postgresql":
            statements += [f"DROP TRIGGER IF EXISTS {table}_guard ON {table}", f"DROP FUNCTION IF EXISTS edms_{table}_guard()"]
        else:
            statements.append(f"DROP TRIGGER IF EXISTS {table}_guard")
    for statement in statements:
        op.execute(statement)
    for table in ("totp_enrolments", "training_records", "signature_policy_acknowledgements",
                  "identity_verifications", "signatures", "signing_credentials"):
        op.drop_table(table)
