"""TOTP secrets sealed under the server key: each stored base32 secret is sealed (AES-GCM, bound to its
account) in place. The key comes from `edms init` (the settings' `totp_key`, else their secret key); a
database with enrolments cannot be migrated without it.

Revision ID: 0009_sealed_totp_secrets
Revises: 0008_session_epoch
Create Date: 2026-12-06
"""
import base64

import sqlalchemy as sa
from alembic import context, op

from edms.crypto.sealing import seal, unseal

revision = "0009_sealed_totp_secrets"
down_revision = "0008_session_epoch"
branch_labels = None
depends_on = None

# The guard of 0004_signatures keeps the secret fixed; it is lifted for this one rewrite and put back as it was.
FIXED = ("user_id", "secret_base32", "created_at")
ONCE = ("confirmed_at",)
MESSAGE = "totp_enrolments: only the key wrapping, a revocation or a confirmation may change"


def _drop_guard(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return ["DROP TRIGGER IF EXISTS totp_enrolments_guard ON totp_enrolments"]
    return ["DROP TRIGGER IF EXISTS totp_enrolments_guard"]


def _guard(dialect: str) -> list[str]:
    if dialect == "sqlite":
        changed = " OR ".join([f"NEW.{c} IS NOT OLD.{c}" for c in FIXED]
                              + [f"(OLD.{c} IS NOT NULL AND NEW.{c} IS NOT OLD.{c})" for c in ONCE])
        return [f"CREATE TRIGGER totp_enrolments_guard BEFORE UPDATE ON totp_enrolments WHEN {changed} "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"]
    return ["CREATE TRIGGER totp_enrolments_guard BEFORE UPDATE ON totp_enrolments FOR EACH ROW "
            "EXECUTE FUNCTION edms_totp_enrolments_guard()"]


def _binding(user_id: int) -> str:
    return f"totp_enrolments.user_id={user_id}"


def _rewrite(convert) -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, user_id, secret_base32 FROM totp_enrolments")).all()
    if not rows:
        return
    key = context.config.attributes.get("totp_sealing_key")
    if not key:
        raise RuntimeError("TOTP secrets are stored in this database: run `edms init` (it gives the server key) "
                           "to seal them")
    dialect = bind.dialect.name
    for statement in _drop_guard(dialect):
        op.execute(statement)
    for row_id, user_id, stored in rows:
        bind.execute(sa.text("UPDATE totp_enrolments SET secret_base32 = :value WHERE id = :id"),
                     {"value": convert(key, user_id, stored), "id": row_id})
    for statement in _guard(dialect):
        op.execute(statement)


def _seal(key: bytes, user_id: int, base32: str) -> str:
    secret = base64.b32decode(base32 + "=" * (-len(base32) % 8))
    return seal(key, secret, _binding(user_id))


def _open(key: bytes, user_id: int, sealed: str) -> str:
    return base64.b32encode(unseal(key, sealed, _binding(user_id))).decode("ascii").rstrip("=")


def upgrade() -> None:
    _rewrite(_seal)


def downgrade() -> None:
    _rewrite(_open)
