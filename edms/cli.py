"""The `edms` command line: init, demo, serve, user management."""
from __future__ import annotations

import sys

import click

from edms.audit import AuditContext
from edms.config import ConfigError, load_settings
from edms.db import make_engine, make_session_factory, transaction


def _settings():
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _sessions(settings):
    from edms.migrate import SchemaOutOfDate, check_schema

    engine = make_engine(settings.database_url)
    try:
        check_schema(engine)
    except SchemaOutOfDate as exc:
        raise click.ClickException(str(exc)) from exc
    return make_session_factory(engine)


@click.group()
def main() -> None:
    """edms: electronic records and signatures for OOS compassionate use."""


@main.command()
def init() -> None:
    """Create the data directory and migrate the database to the current schema."""
    from edms.migrate import current_revision, head_revision, upgrade

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    before = current_revision(engine)
    upgrade(engine)
    click.echo(f"Database {engine.url.render_as_string(hide_password=True)}: {before or 'empty'} -> {head_revision()}")


@main.command()
def demo() -> None:
    """Create demo users (one per role) and print their credentials."""
    from edms.demo import DEMO_PASSWORD, create_demo_users

    settings = _settings()
    with transaction(_sessions(settings)) as session:
        results = create_demo_users(session, settings.password)
    click.echo("Demo accounts (password for all: %s)" % DEMO_PASSWORD)
    for person, created in results:
        state = "created" if created else "exists"
        click.echo(f"  {person.username:<18} {person.role:<11} {person.printed_name} [{state}]")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
def serve(host: str, port: int, threads: int) -> None:
    """Serve edms with the waitress WSGI server."""
    from waitress import serve as waitress_serve

    from edms.app import create_app
    from edms.migrate import SchemaOutOfDate

    try:
        app = create_app(_settings())
    except SchemaOutOfDate as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"edms listening on http://{host}:{port}/")
    waitress_serve(app, host=host, port=port, threads=threads)


@main.group()
def user() -> None:
    """Manage accounts from the server's console."""


@user.command("create")
@click.argument("username")
@click.option("--name", "printed_name", required=True, help="Printed full name, as it will appear under signatures.")
@click.option("--role", "roles", required=True, multiple=True, help="Role; repeat for several.")
@click.option("--email", default="")
@click.option("--title", default="")
@click.option("--timezone", "zone", default="UTC", show_default=True)
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the password from standard input (never from the command line).")
def user_create(username, printed_name, roles, email, title, zone, password_stdin) -> None:
    """Create an account ready to use (the operator chose its password)."""
    from edms.users.operations import AccountError, Profile, create_user

    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise click.ClickException("no password on standard input")
    settings = _settings()
    try:
        with transaction(_sessions(settings)) as session:
            created = create_user(
                session, AuditContext.system("edms user create (console)"), settings.password,
                username=username,
                profile=Profile(printed_name=printed_name, title=title, email=email, timezone=zone),
                roles=set(roles), password=password, must_change_password=False,
            )
            name = created.username
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created {name}")


if __name__ == "__main__":
    main()
