"""Lists that stay flat as the archive grows, second round: the records each active case still needs stored
once per change (`case_tasks`, edms.application.case_tasks) so the inbox reads the rows of the reader's roles
instead of computing every case's checklist; indexes for the deadline dashboard, the stuck-records list and a person's jobs.

Every case's `deadlines_at` is emptied: a case then has its next deadline and its checklist computed on read
(bounded by the page) until its next change stores both (the regimes are files the migration does not read).

Revision ID: 0022_scale_lists
Revises: 0021_frozen_renditions
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0022_scale_lists"
down_revision = "0021_frozen_renditions"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_cases_deadlines_at", "cases", ["deadlines_at"]),
    ("ix_cases_status_next_due", "cases", ["status", "next_due_at", "id"]),
    ("ix_document_versions_status_changed", "document_versions", ["status", "status_changed_at", "id"]),
    ("ix_jobs_requested_by_id", "jobs", ["requested_by", "id"]),
)


def upgrade() -> None:
    op.create_table(
        "case_tasks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("type_key", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("physician_writes", sa.Boolean(), nullable=False),
        sa.Column("waiting_for", sa.Text(), nullable=False),
    )
    op.create_index("ix_case_tasks_case_id", "case_tasks", ["case_id"])
    op.create_index("ix_case_tasks_role_case", "case_tasks", ["role", "case_id"])
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    op.execute("UPDATE cases SET deadlines_at = NULL")


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_index("ix_case_tasks_role_case", table_name="case_tasks")
    op.drop_index("ix_case_tasks_case_id", table_name="case_tasks")
    op.drop_table("case_tasks")
