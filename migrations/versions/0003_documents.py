"""Documents, immutable versions, attachments and number sequences.

Revision ID: 0003_documents
Revises: 0002_audit_checkpoints
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

from edms.audit.immutability import protect_statements, unprotect_statements
from edms.db import UTCDateTime

revision = "0003_documents"
down_revision = "0002_audit_checkpoints"
branch_labels = None
depends_on = None

# A frozen (submitted) version's content can never change; only its status moves on.
FROZEN_COLUMNS = ("document_id", "version", "title", "content", "content_sha256", "frozen_at", "created_by", "created_at")


def _frozen_guards(dialect: str) -> list[str]:
    if dialect == "sqlite":
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN_COLUMNS)
        return [
            "CREATE TRIGGER document_versions_frozen BEFORE UPDATE ON document_versions "
            f"WHEN OLD.frozen_at IS NOT NULL AND ({changed}) "
            "BEGIN SELECT RAISE(ABORT, 'document_versions: a submitted version is frozen'); END",
            "CREATE TRIGGER attachments_frozen_insert BEFORE INSERT ON attachments "
            "WHEN (SELECT frozen_at FROM document_versions WHERE id = NEW.version_id) IS NOT NULL "
            "BEGIN SELECT RAISE(ABORT, 'attachments: a submitted version is frozen'); END",
            "CREATE TRIGGER attachments_frozen_update BEFORE UPDATE ON attachments "
            "WHEN (SELECT frozen_at FROM document_versions WHERE id = OLD.version_id) IS NOT NULL "
            "BEGIN SELECT RAISE(ABORT, 'attachments: a submitted version is frozen'); END",
        ]
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FROZEN_COLUMNS)
    return [
        "CREATE OR REPLACE FUNCTION edms_version_frozen() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF OLD.frozen_at IS NOT NULL AND ({changed}) THEN "
        "RAISE EXCEPTION 'document_versions: a submitted version is frozen'; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER document_versions_frozen BEFORE UPDATE ON document_versions "
        "FOR EACH ROW EXECUTE FUNCTION edms_version_frozen()",
        "CREATE OR REPLACE FUNCTION edms_attachment_frozen() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "DECLARE target integer; BEGIN "
        "IF TG_OP = 'INSERT' THEN target := NEW.version_id; ELSE target := OLD.version_id; END IF; "
        "IF (SELECT frozen_at FROM document_versions WHERE id = target) IS NOT NULL THEN "
        "RAISE EXCEPTION 'attachments: a submitted version is frozen'; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER attachments_frozen BEFORE INSERT OR UPDATE ON attachments "
        "FOR EACH ROW EXECUTE FUNCTION edms_attachment_frozen()",
    ]


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("type_key", sa.String(64), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("owner_id", sa.Integer(), sa.ForeignKey("users.id", name="fk_documents_owner_id_users"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("case_id", sa.Integer()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("number", name="uq_documents_number"),
    )
    op.create_index("ix_documents_type_key", "documents", ["type_key"])
    op.create_index("ix_documents_owner_id", "documents", ["owner_id"])
    op.create_index("ix_documents_case_id", "documents", ["case_id"])
    op.create_table(
        "document_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("document_id", sa.Integer(), sa.ForeignKey("documents.id", name="fk_document_versions_document_id_documents"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_sha256", sa.String(64)),
        sa.Column("reason", sa.Text()),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id", name="fk_document_versions_created_by_users"), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("frozen_at", UTCDateTime()),
        sa.Column("status_changed_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("document_id", "version", name="uq_document_versions_document_id"),
    )
    op.create_index("ix_document_versions_document_id", "document_versions", ["document_id"])
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("document_versions.id", name="fk_attachments_version_id_document_versions"), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=False),
        sa.Column("media_type", sa.String(120), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("added_by", sa.Integer(), sa.ForeignKey("users.id", name="fk_attachments_added_by_users"), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.Column("removed_at", UTCDateTime()),
        sa.Column("removed_by", sa.Integer(), sa.ForeignKey("users.id", name="fk_attachments_removed_by_users")),
    )
    op.create_index("ix_attachments_version_id", "attachments", ["version_id"])
    op.create_table(
        "number_sequences",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("type_key", sa.String(64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.UniqueConstraint("type_key", "year", name="uq_number_sequences_type_key"),
    )
    dialect = op.get_bind().dialect.name
    statements = (
        protect_statements(dialect, "documents", ("DELETE",))
        + protect_statements(dialect, "document_versions", ("DELETE",))
        + protect_statements(dialect, "attachments", ("DELETE",))
        + _frozen_guards(dialect)
    )
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in ("documents", "document_versions", "attachments"):
        for statement in unprotect_statements(dialect, table, ("DELETE",)):
            op.execute(statement)
    guards = ["document_versions_frozen", "attachments_frozen_insert", "attachments_frozen_update", "attachments_frozen"]
    for name in guards:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON document_versions" if dialect == "postgresql" and name.startswith("document") else "")
                   + (" ON attachments" if dialect == "postgresql" and name.startswith("attachments") else ""))
    for table in ("number_sequences", "attachments", "document_versions", "documents"):
        op.drop_table(table)
