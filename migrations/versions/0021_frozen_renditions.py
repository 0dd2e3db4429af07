"""Renditions frozen and stored (issue 15): a frozen version's DOCX in its site's language and zone, kept in
the blob store and reused by exports while it prints the same (edms.documents.rendition_models). Append-only.

Revision ID: 0021_frozen_renditions
Revises: 0020_scale_indexes
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

from edms.audit.immutability import protect_statements, unprotect_statements
from edms.db import UTCDateTime

revision = "0021_frozen_renditions"
down_revision = "0020_scale_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "frozen_renditions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("document_versions.id"), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("display_tz", sa.String(64), nullable=False),
        sa.Column("layout_sha256", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("generated_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("version_id", "format", "language", "display_tz", "layout_sha256"),
    )
    op.create_index("ix_frozen_renditions_version_id", "frozen_renditions", ["version_id"])
    # A stored rendition, once recorded, is never changed nor removed (a new print gets a row of its own).
    for statement in protect_statements(op.get_bind().dialect.name, "frozen_renditions", ("UPDATE", "DELETE")):
        op.execute(statement)


def downgrade() -> None:
    for statement in unprotect_statements(op.get_bind().dialect.name, "frozen_renditions", ("UPDATE", "DELETE")):
        op.execute(statement)
    op.drop_index("ix_frozen_renditions_version_id", "frozen_renditions")
    op.drop_table("frozen_renditions")
