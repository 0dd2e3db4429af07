"""The session epoch of an account: moved on to end its page sessions on every node.

Revision ID: 0008_session_epoch
Revises: 0007_delegations
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_session_epoch"
down_revision = "0007_delegations"
branch_labels = None
depends_on = None


# A plain ALTER TABLE on both engines: a batch copy of `users` would drop its no-delete trigger on SQLite.
def upgrade() -> None:
    op.add_column("users", sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.execute("ALTER TABLE users DROP COLUMN session_epoch")
