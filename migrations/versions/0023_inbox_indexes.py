"""The inbox a page at a time: a person's own drafts are read newest first after the last one of the previous
page, which PostgreSQL walks in order only on an index of (owner_id, id) (SQLite's index on owner_id already
ends with the row id). The records cases need and the versions to sign walk indexes of 0022_scale_lists.

Revision ID: 0023_inbox_indexes
Revises: 0022_scale_lists
Create Date: 2026-12-07
"""
from alembic import op

revision = "0023_inbox_indexes"
down_revision = "0022_scale_lists"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_documents_owner_id_id", "documents", ["owner_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_documents_owner_id_id", table_name="documents")
