"""`edms blobs`: move the stored files of an existing filesystem store into the database or an object store."""
from __future__ import annotations

import click

from edms.application.unit_of_work import command
from edms.audit import AuditContext
from edms.cli.group import _services, _settings, main


@main.group()
def blobs() -> None:
    """Stored files: where they live and moving them to another store."""


@blobs.command("copy")
@click.option("--to", "target", required=True, type=click.Choice(["database", "s3"]),
              help="The store to copy into (configure it with blob_store and the s3_* keys afterwards).")
@click.option("--from", "source", default="filesystem", show_default=True, type=click.Choice(["filesystem", "database"]),
              help="The store to copy from.")
def blobs_copy(target: str, source: str) -> None:
    """Copy every stored file into another store, re-hashing each on both sides; safe to run again."""
    from edms.application import blob_copy
    from edms.config import ConfigError
    from edms.documents.blobstore import BlobCorrupted

    services = _services(_settings())
    try:
        with command(services.sessions) as session:
            report = blob_copy.copy_blobs(services, session, AuditContext.system("edms blobs copy (console)"),
                                          source=source, target=target)
    except (ConfigError, BlobCorrupted) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{report.copied} file(s) copied, {report.already_there} already there, "
               f"{report.examined} examined ({source} -> {target}); every hash verified in the target")
    if report.failed:
        for sha256, why in report.failed:
            click.echo(f"NOT COPIED {sha256}: {why}", err=True)
        raise SystemExit(1)
