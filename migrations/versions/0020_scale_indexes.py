"""Lists that stay fast as the archive grows: an index for every filter the lists offer (with the id they are
paged by), and each case's next deadline stored (edms.application.case_deadlines) so lists need not compute it.

Cases stored before this revision keep `deadlines_at` empty: their next deadline is computed on read until
their next change (the regimes are files the migration does not read).

Revision ID: 0020_scale_indexes
Revises: 0019_jobs
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

from edms.db import UTCDateTime

revision = "0020_scale_indexes"
down_revision = "0019_jobs"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_cases_status_id", "cases", ["status", "id"]),
    ("ix_cases_jurisdiction_id", "cases", ["jurisdiction", "id"]),
    ("ix_cases_physician_id", "cases", ["physician_id"]),
    ("ix_cases_next_due_at", "cases", ["next_due_at"]),
    ("ix_documents_type_key_id", "documents", ["type_key", "id"]),
    ("ix_documents_status_id", "documents", ["status", "id"]),
    ("ix_notifications_recipient_created", "notifications", ["recipient_id", "created_at", "id"]),
    ("ix_notifications_created_id", "notifications", ["created_at", "id"]),
)


def upgrade() -> None:
    # Plain ADD COLUMN (nullable, no default) works on SQLite without a batch copy.
    op.add_column("cases", sa.Column("next_deadline_key", sa.String(64), nullable=True))
    op.add_column("cases", sa.Column("next_due_at", UTCDateTime(), nullable=True))
    op.add_column("cases", sa.Column("next_warn_at", UTCDateTime(), nullable=True))
    op.add_column("cases", sa.Column("deadlines_at", UTCDateTime(), nullable=True))
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    for column in ("deadlines_at", "next_warn_at", "next_due_at", "next_deadline_key"):
        op.drop_column("cases", column)  # SQLite 3.35 drops a plain column in place (as 0010's downgrade does)
