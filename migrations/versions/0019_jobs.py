"""Jobs: long work queued in the database and run by a worker, with leases, retries and the error kept.

Revision ID: 0019_jobs
Revises: 0018_web_sessions
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

from edms.db import UTCDateTime

revision = "0019_jobs"
down_revision = "0018_web_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.Integer(), sa.ForeignKey("users.id", name="fk_jobs_requested_by_users")),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(200)),
        sa.Column("lease_expires_at", UTCDateTime()),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("progress_done", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(200), nullable=False),
        sa.Column("result", sa.JSON()),
        sa.Column("last_error", sa.Text()),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("singleton", sa.String(64)),
        sa.UniqueConstraint("singleton", name="uq_jobs_singleton"),
    )
    op.create_index("ix_jobs_status", "jobs", ["status"])


def downgrade() -> None:
    op.drop_index("ix_jobs_status", "jobs")
    op.drop_table("jobs")
