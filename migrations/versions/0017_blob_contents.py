"""Stored files in the database (blob_store = "database", the default with PostgreSQL), append-only.

Revision ID: 0017_blob_contents
Revises: 0016_archive_timestamps
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

from edms.audit.immutability import protect_statements, unprotect_statements
from edms.db import UTCDateTime

revision = "0017_blob_contents"
down_revision = "0016_archive_timestamps"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blob_contents",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    for statement in protect_statements(op.get_bind().dialect.name, "blob_contents"):
        op.execute(statement)


def downgrade() -> None:
    for statement in unprotect_statements(op.get_bind().dialect.name, "blob_contents"):
        op.execute(statement)
    op.drop_table("blob_contents")
