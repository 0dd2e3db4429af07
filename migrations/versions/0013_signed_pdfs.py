"""The frozen, signed PDF of each version: one row per revision (its kind, length and SHA-256), append-only.

Revision ID: 0013_signed_pdfs
Revises: 0012_escalations
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

from edms.audit.immutability import protect_statements, unprotect_statements
from edms.db import UTCDateTime

revision = "0013_signed_pdfs"
down_revision = "0012_escalations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signed_pdf_revisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("document_versions.id"), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("signature_id", sa.String(36)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("version_id", "revision"),
    )
    op.create_index("ix_signed_pdf_revisions_version_id", "signed_pdf_revisions", ["version_id"])
    # A revision, once recorded, is never changed nor removed: the PDF is only ever appended to.
    for statement in protect_statements(op.get_bind().dialect.name, "signed_pdf_revisions", ("UPDATE", "DELETE")):
        op.execute(statement)


def downgrade() -> None:
    for statement in unprotect_statements(op.get_bind().dialect.name, "signed_pdf_revisions", ("UPDATE", "DELETE")):
        op.execute(statement)
    op.drop_index("ix_signed_pdf_revisions_version_id", "signed_pdf_revisions")
    op.drop_table("signed_pdf_revisions")
