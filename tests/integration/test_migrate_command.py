"""Schema migrations run once, by `edms migrate` (or `edms init`), never by each node at start: a node
refuses to start on a schema that is not current and says what to run; after `edms migrate` it starts."""
from alembic import command

from edms.db import make_engine
from edms.migrate import alembic_config, current_revision, head_revision
from tests.support.server import Server, edms_command


def _one_revision_back(database_url: str) -> str:
    engine = make_engine(database_url)
    command.downgrade(alembic_config(engine), "-1")
    before = current_revision(engine)
    engine.dispose()
    assert before is not None and before != head_revision()
    return before


def test_serve_refuses_an_old_schema_and_starts_once_edms_migrate_ran(settings, organisation_pki, tmp_path):
    before = _one_revision_back(settings.database_url)
    refused = edms_command(settings, "serve", "--port", "1", timeout=120)
    assert refused.returncode != 0
    assert before in refused.stderr and head_revision() in refused.stderr and "edms migrate" in refused.stderr

    migrated = edms_command(settings, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert f"{before} -> {head_revision()}" in migrated.stdout
    engine = make_engine(settings.database_url)
    assert current_revision(engine) == head_revision()
    engine.dispose()

    server = Server(settings, tmp_path).start()
    try:
        assert server.request("GET", "/api/v1/openapi.json").status == 200
    finally:
        server.stop()


def test_edms_migrate_on_a_current_schema_changes_nothing_and_says_so(settings):
    again = edms_command(settings, "migrate")
    assert again.returncode == 0, again.stderr
    assert f"already at {head_revision()}" in again.stdout


def test_edms_migrate_creates_the_schema_of_an_empty_database_and_nothing_else(tmp_path):
    from edms.config import load_settings

    settings = load_settings("testing", overrides={"database_url": f"sqlite:///{tmp_path / 'new.sqlite3'}",
                                                   "data_dir": str(tmp_path / "data")})
    result = edms_command(settings, "migrate")
    assert result.returncode == 0, result.stderr
    assert f"empty -> {head_revision()}" in result.stdout
    assert not (tmp_path / "data" / "pki").exists()  # the PKI is `edms init`'s
