"""`edms migrate`: the schema migrations, run once for every node (nodes never migrate at start: `edms serve`
refuses a schema that is not current, and says to run this)."""
from __future__ import annotations

import click

from edms.cli.group import _settings, main
from edms.db import make_engine
from edms.signatures.totp_secrets import sealing_key


@main.command()
def migrate() -> None:
    """Bring the database schema to the revision this version of edms needs (nothing else: no data
    directory, no PKI). Back up the database first; run it once, from one place, before starting the nodes."""
    from edms.migrate import current_revision, head_revision, upgrade

    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        before, head = current_revision(engine), head_revision()
        where = engine.url.render_as_string(hide_password=True)
        if before == head:
            click.echo(f"Database {where}: already at {head}, nothing to migrate")
            return
        upgrade(engine, totp_sealing_key=sealing_key(settings))
        click.echo(f"Database {where}: {before or 'empty'} -> {current_revision(engine)}")
    finally:
        engine.dispose()
