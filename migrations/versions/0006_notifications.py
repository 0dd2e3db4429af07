"""Notifications: the outbox of messages to people (e-mailed when SMTP is configured, otherwise recorded).

Revision ID: 0006_notifications
Revises: 0005_cases
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

from edms.audit.immutability import protect_statements, unprotect_statements
from edms.db import UTCDateTime

revision = "0006_notifications"
down_revision = "0005_cases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("recipient_id", sa.Integer(), sa.ForeignKey("users.id", name="fk_notifications_recipient_id_users"),
                  nullable=False),
        sa.Column("recipient_email", sa.String(254)),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("document_id", sa.Integer(), sa.ForeignKey("documents.id", name="fk_notifications_document_id_documents")),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", name="fk_notifications_case_id_cases")),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", UTCDateTime()),
        sa.Column("last_error", sa.Text()),
    )
    op.create_index("ix_notifications_recipient_id", "notifications", ["recipient_id"])
    op.create_index("ix_notifications_status", "notifications", ["status"])
    # Delivery changes a row's status (audited); nobody deletes one.
    for statement in protect_statements(op.get_bind().dialect.name, "notifications", ("DELETE",)):
        op.execute(statement)


def downgrade() -> None:
    for statement in unprotect_statements(op.get_bind().dialect.name, "notifications", ("DELETE",)):
        op.execute(statement)
    op.drop_table("notifications")
