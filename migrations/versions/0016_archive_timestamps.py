"""Archive time-stamps of detached signatures (RFC 4998 Evidence Records), append-only.

Revision ID: 0016_archive_timestamps
Revises: 0013_signed_pdfs
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

from edms.audit.immutability import protect_statements, unprotect_statements
from edms.db import UTCDateTime

revision = "0016_archive_timestamps"
down_revision = "0013_signed_pdfs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archive_timestamps",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("signature_id", sa.Integer(),
                  sa.ForeignKey("signatures.id", name="fk_archive_timestamps_signature_id_signatures"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("archive_stamp", sa.LargeBinary(), nullable=False),
        sa.Column("timestamped_at", UTCDateTime(), nullable=False),
        sa.Column("tsa_subject", sa.String(500), nullable=False),
        sa.Column("valid_until", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("signature_id", "seq", name="uq_archive_timestamps_signature_id"),
    )
    op.create_index("ix_archive_timestamps_signature_id", "archive_timestamps", ["signature_id"])
    op.create_index("ix_archive_timestamps_valid_until", "archive_timestamps", ["valid_until"])
    for statement in protect_statements(op.get_bind().dialect.name, "archive_timestamps"):
        op.execute(statement)


def downgrade() -> None:
    for statement in unprotect_statements(op.get_bind().dialect.name, "archive_timestamps"):
        op.execute(statement)
    op.drop_index("ix_archive_timestamps_valid_until", "archive_timestamps")
    op.drop_index("ix_archive_timestamps_signature_id", "archive_timestamps")
    op.drop_table("archive_timestamps")
