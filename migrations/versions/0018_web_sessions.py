"""Signed-in page sessions on the server, so that every app node sees them start, idle and end.

Revision ID: 0018_web_sessions
Revises: 0017_blob_contents
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

from edms.db import UTCDateTime

revision = "0018_web_sessions"
down_revision = "0017_blob_contents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("id_sha256", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", name="fk_web_sessions_user_id_users"),
                  nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("client_addr", sa.String(64), nullable=False),
        sa.Column("user_agent", sa.String(256), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("end_reason", sa.String(32), nullable=True),
        sa.UniqueConstraint("id_sha256", name="uq_web_sessions_id_sha256"),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_index("ix_web_sessions_ended_at", "web_sessions", ["ended_at"])


def downgrade() -> None:
    op.drop_index("ix_web_sessions_ended_at", "web_sessions")
    op.drop_index("ix_web_sessions_user_id", "web_sessions")
    op.drop_table("web_sessions")
