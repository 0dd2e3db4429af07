"""Audit trail: signed, time-stamped checkpoints of the chain head and periodic audit-trail reviews.

Revision ID: 0002_audit_checkpoints
Revises: 0001_foundation
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

from edms.audit.immutability import protect_statements, unprotect_statements
from edms.db import UTCDateTime

revision = "0002_audit_checkpoints"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PROTECTED = ("audit_checkpoint", "audit_review")


def upgrade() -> None:
    op.create_table(
        "audit_checkpoint",
        sa.Column("number", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", SEQ, nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("timestamp_token", sa.LargeBinary(), nullable=False),
        sa.Column("timestamped_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "audit_review",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("reviewed_at", UTCDateTime(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(),
                  sa.ForeignKey("users.id", name="fk_audit_review_reviewer_id_users"), nullable=False),
        sa.Column("reviewer_name", sa.String(200), nullable=False),
        sa.Column("from_seq", SEQ, nullable=False),
        sa.Column("to_seq", SEQ, nullable=False),
        sa.Column("period_start", UTCDateTime(), nullable=False),
        sa.Column("period_end", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("findings", sa.Text(), nullable=False),
    )
    op.create_index("ix_audit_review_reviewer_id", "audit_review", ["reviewer_id"])
    dialect = op.get_bind().dialect.name
    for table in PROTECTED:
        for statement in protect_statements(dialect, table):
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in PROTECTED:
        for statement in unprotect_statements(dialect, table):
            op.execute(statement)
    op.drop_table("audit_review")
    op.drop_table("audit_checkpoint")
