"""Escalations of overdue tasks: one row per task and level, so `edms escalate` tells people once per level.

Revision ID: 0012_escalations
Revises: 0010_sites
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

from edms.audit.immutability import protect_statements, unprotect_statements
from edms.db import UTCDateTime

revision = "0012_escalations"
down_revision = "0010_sites"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_escalations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("task_key", sa.String(200), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("role", sa.String(32)),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", name="fk_task_escalations_case_id_cases")),
        sa.Column("document_id", sa.Integer(),
                  sa.ForeignKey("documents.id", name="fk_task_escalations_document_id_documents")),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("escalated_at", UTCDateTime(), nullable=False),
        sa.Column("notified", sa.Integer(), nullable=False),
        sa.UniqueConstraint("task_key", "level", name="uq_task_escalations_task_key_level"),
    )
    op.create_index("ix_task_escalations_case_id", "task_escalations", ["case_id"])
    # An escalation happened or it did not: rows are never changed or deleted.
    for statement in protect_statements(op.get_bind().dialect.name, "task_escalations"):
        op.execute(statement)


def downgrade() -> None:
    for statement in unprotect_statements(op.get_bind().dialect.name, "task_escalations"):
        op.execute(statement)
    op.drop_table("task_escalations")
