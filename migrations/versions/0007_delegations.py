"""Delegations: who signs a named person's steps while they are absent.

Revision ID: 0007_delegations
Revises: 0006_notifications
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

from edms.audit.immutability import protect_statements, unprotect_statements
from edms.db import UTCDateTime

revision = "0007_delegations"
down_revision = "0006_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delegations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("delegator_id", sa.Integer(), sa.ForeignKey("users.id", name="fk_delegations_delegator_id_users"),
                  nullable=False),
        sa.Column("delegate_id", sa.Integer(), sa.ForeignKey("users.id", name="fk_delegations_delegate_id_users"),
                  nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id", name="fk_delegations_created_by_users"),
                  nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime()),
        sa.Column("revoked_by", sa.Integer(), sa.ForeignKey("users.id", name="fk_delegations_revoked_by_users")),
        sa.Column("revocation_reason", sa.Text()),
    )
    op.create_index("ix_delegations_delegator_id", "delegations", ["delegator_id"])
    op.create_index("ix_delegations_delegate_id", "delegations", ["delegate_id"])
    # Revocation is the one permitted change (audited); a delegation is never deleted.
    for statement in protect_statements(op.get_bind().dialect.name, "delegations", ("DELETE",)):
        op.execute(statement)


def downgrade() -> None:
    for statement in unprotect_statements(op.get_bind().dialect.name, "delegations", ("DELETE",)):
        op.execute(statement)
    op.drop_table("delegations")
