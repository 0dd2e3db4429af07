"""The schema comes only from Alembic migrations, identical on SQLite and PostgreSQL."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

import edms.models  # noqa: F401
from edms.config import load_settings
from edms.db import Base, make_engine
from edms.migrate import SchemaOutOfDate, check_schema, current_revision, head_revision, upgrade


def test_migrations_bring_a_database_to_head_and_match_the_models(database_url):
    engine = make_engine(database_url)
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def test_upgrade_from_empty_on_sqlite(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_the_app_refuses_a_database_not_at_head_and_says_how_to_fix_it(database_url, tmp_path):
    from edms.app import create_app

    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'an_old_revision'"))
    with pytest.raises(SchemaOutOfDate, match="edms init"):
        check_schema(engine)
    engine.dispose()
    with pytest.raises(SchemaOutOfDate, match="an_old_revision"):
        create_app(load_settings("testing", overrides={"database_url": database_url, "data_dir": str(tmp_path)}))
