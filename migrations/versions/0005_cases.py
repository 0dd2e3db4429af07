"""Cases: one OOS lot for one patient, with append-only dates and answers.

Revision ID: 0005_cases
Revises: 0004_signatures
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

from edms.audit.immutability import protect_statements, unprotect_statements
from edms.db import UTCDateTime

revision = "0005_cases"
down_revision = "0004_signatures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("reference", sa.String(32), nullable=False),
        sa.Column("regime_key", sa.String(64), nullable=False),
        sa.Column("jurisdiction", sa.String(8), nullable=False),
        sa.Column("product", sa.String(200), nullable=False),
        sa.Column("lot", sa.String(64), nullable=False),
        sa.Column("patient_ref", sa.String(32), nullable=False),
        sa.Column("treating_site", sa.String(200), nullable=False),
        sa.Column("site_timezone", sa.String(64), nullable=False),
        sa.Column("physician_id", sa.Integer(), sa.ForeignKey("users.id", name="fk_cases_physician_id_users")),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id", name="fk_cases_created_by_users"), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("reference", name="uq_cases_reference"),
    )
    for column in ("jurisdiction", "product", "lot", "patient_ref"):
        op.create_index(f"ix_cases_{column}", "cases", [column])
    for table, value_column in (("case_dates", sa.Column("value", UTCDateTime(), nullable=False)),
                                ("case_answers", sa.Column("answer", sa.Boolean(), nullable=False))):
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", name=f"fk_{table}_case_id_cases"), nullable=False),
            sa.Column("key", sa.String(64), nullable=False),
            value_column,
            sa.Column("reason", sa.Text()),
            sa.Column("recorded_by", sa.Integer(), sa.ForeignKey("users.id", name=f"fk_{table}_recorded_by_users"), nullable=False),
            sa.Column("recorded_at", UTCDateTime(), nullable=False),
        )
        op.create_index(f"ix_{table}_case_id", table, ["case_id"])
    dialect = op.get_bind().dialect.name
    statements = (
        protect_statements(dialect, "cases", ("DELETE",))
        + protect_statements(dialect, "case_dates")
        + protect_statements(dialect, "case_answers")
    )
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, operations in (("cases", ("DELETE",)), ("case_dates", ("UPDATE", "DELETE")), ("case_answers", ("UPDATE", "DELETE"))):
        for statement in unprotect_statements(dialect, table, operations):
            op.execute(statement)
    for table in ("case_answers", "case_dates", "cases"):
        op.drop_table(table)
