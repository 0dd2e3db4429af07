"""The `edms` command group and what every command needs: the settings and the wired services."""
from __future__ import annotations

import click

from edms.application.services import Services, build_services
from edms.config import ConfigError, load_settings


def _settings():
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _services(settings) -> Services:
    """The same wiring as the app factory's; each command then runs in one unit of work."""
    from edms.migrate import SchemaOutOfDate
    from edms.pki import PkiError

    try:
        return build_services(settings)
    except (SchemaOutOfDate, PkiError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def main() -> None:
    """edms: electronic records and signatures for OOS compassionate use."""
