"""Sites as records: a site has a name, a time zone and a country; people belong to sites; a case names its
site. Every case's free-text treating site and zone become a site record (one per distinct name and zone);
the two columns stay as the case was opened with them, and the site reference is authoritative from now on.

`cases.site_id` is added with a plain ALTER TABLE on both engines (a batch copy of `cases` would drop its
no-delete trigger on SQLite) and is never null: a CHECK on PostgreSQL, triggers on SQLite.

Revision ID: 0010_sites
Revises: 0009_sealed_totp_secrets
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

from edms.db import UTCDateTime
from edms.sites.zones import country_of_zone
from edms.timeutil import utc_now

revision = "0010_sites"
down_revision = "0009_sealed_totp_secrets"
branch_labels = None
depends_on = None

UNKNOWN_COUNTRY = "ZZ"  # ISO 3166 user-assigned: the administrator corrects it on the site's page
SITE_REQUIRED = "cases: a case names its site (site_id)"


def _site_required(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return ["ALTER TABLE cases ADD CONSTRAINT ck_cases_site_required CHECK (site_id IS NOT NULL)"]
    return [f"CREATE TRIGGER cases_site_required_{when.lower()} BEFORE {when} ON cases WHEN NEW.site_id IS NULL "
            f"BEGIN SELECT RAISE(ABORT, '{SITE_REQUIRED}'); END" for when in ("INSERT", "UPDATE")]


def _country(zone: str, jurisdiction: str) -> str:
    found = country_of_zone(zone)
    if found:
        return found
    return jurisdiction if len(jurisdiction) == 2 and jurisdiction.isalpha() and jurisdiction != "EU" else UNKNOWN_COUNTRY


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id", name="fk_sites_created_by_users")),
        sa.UniqueConstraint("name", name="uq_sites_name"),
    )
    op.create_table(
        "site_members",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.Integer(), sa.ForeignKey("sites.id", name="fk_site_members_site_id_sites"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", name="fk_site_members_user_id_users"), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.Column("added_by", sa.Integer(), sa.ForeignKey("users.id", name="fk_site_members_added_by_users"),
                  nullable=False),
        sa.Column("removed_at", UTCDateTime()),
        sa.Column("removed_by", sa.Integer(), sa.ForeignKey("users.id", name="fk_site_members_removed_by_users")),
    )
    op.create_index("ix_site_members_site_id", "site_members", ["site_id"])
    op.create_index("ix_site_members_user_id", "site_members", ["user_id"])
    dialect = op.get_bind().dialect.name
    # Membership rows are ended, never deleted: who belonged to a site when stays readable.
    op.execute(
        "CREATE TRIGGER site_members_no_delete BEFORE DELETE ON site_members "
        "BEGIN SELECT RAISE(ABORT, 'site_members is append-only: DELETE refused'); END" if dialect == "sqlite" else
        "CREATE TRIGGER site_members_no_delete BEFORE DELETE ON site_members "
        "FOR EACH ROW EXECUTE FUNCTION edms_refuse_change()")
    op.execute(
        "CREATE TRIGGER sites_no_delete BEFORE DELETE ON sites "
        "BEGIN SELECT RAISE(ABORT, 'sites is append-only: DELETE refused'); END" if dialect == "sqlite" else
        "CREATE TRIGGER sites_no_delete BEFORE DELETE ON sites FOR EACH ROW EXECUTE FUNCTION edms_refuse_change()")
    op.execute(
        "ALTER TABLE cases ADD COLUMN site_id INTEGER REFERENCES sites (id)" if dialect == "sqlite" else
        "ALTER TABLE cases ADD COLUMN site_id INTEGER CONSTRAINT fk_cases_site_id_sites REFERENCES sites (id)")
    op.create_index("ix_cases_site_id", "cases", ["site_id"])
    _sites_from_cases()
    for statement in _site_required(dialect):
        op.execute(statement)


def _sites_from_cases() -> None:
    """One site per distinct (treating site, zone) of the existing cases; a name used with two zones gets
    the zone added to it, so both stay distinct records."""
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, treating_site, site_timezone, jurisdiction FROM cases ORDER BY id")).all()
    zones_of: dict[str, set[str]] = {}
    for _id, name, zone, _jurisdiction in rows:
        zones_of.setdefault(name.strip(), set()).add(zone)
    made: dict[tuple[str, str], int] = {}
    now = utc_now()
    sites = sa.table("sites", sa.column("id", sa.Integer()), sa.column("name", sa.String()),
                     sa.column("timezone", sa.String()), sa.column("country", sa.String()),
                     sa.column("created_at", UTCDateTime()), sa.column("created_by", sa.Integer()))
    for case_id, name, zone, jurisdiction in rows:
        key = (name.strip(), zone)
        if key not in made:
            shown = key[0] if len(zones_of[key[0]]) == 1 else f"{key[0]} ({zone})"[:200]
            made[key] = bind.execute(sites.insert().values(
                name=shown, timezone=zone, country=_country(zone, jurisdiction), created_at=now, created_by=None,
            ).returning(sites.c.id)).scalar_one()
        bind.execute(sa.text("UPDATE cases SET site_id = :site WHERE id = :id"), {"site": made[key], "id": case_id})


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("ALTER TABLE cases DROP CONSTRAINT IF EXISTS ck_cases_site_required")
        op.execute("ALTER TABLE cases DROP CONSTRAINT IF EXISTS fk_cases_site_id_sites")
        op.execute("DROP TRIGGER IF EXISTS sites_no_delete ON sites")
        op.execute("DROP TRIGGER IF EXISTS site_members_no_delete ON site_members")
    else:
        for statement in ("DROP TRIGGER IF EXISTS cases_site_required_insert", "DROP TRIGGER IF EXISTS cases_site_required_update",
                          "DROP TRIGGER IF EXISTS sites_no_delete", "DROP TRIGGER IF EXISTS site_members_no_delete"):
            op.execute(statement)
    op.drop_index("ix_cases_site_id", "cases")
    # The case keeps the treating site and zone it was opened with; a site renamed since is the site's history.
    op.execute("ALTER TABLE cases DROP COLUMN site_id")
    op.drop_index("ix_site_members_user_id", "site_members")
    op.drop_index("ix_site_members_site_id", "site_members")
    op.drop_table("site_members")
    op.drop_table("sites")
