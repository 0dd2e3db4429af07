"""The administrator's jobs page reads, for each periodic kind, its newest job and its newest finished one: with
only the primary key, a kind that has not run for a while (or never) was found by walking every job newest
first (bench_scale.py: the page 1.9× slower at 10⁴ cases). An index of (kind, id) walks only that kind's jobs.

Revision ID: 0024_jobs_kind_index
Revises: 0023_inbox_indexes
Create Date: 2026-12-07
"""
from alembic import op

revision = "0024_jobs_kind_index"
down_revision = "0023_inbox_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_kind_id", "jobs", ["kind", "id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_kind_id", table_name="jobs")
