"""The `edms` commands: init, demo, serve, user management, verify, checkpoint, export, escalate, outbox, pki."""
from __future__ import annotations

import gc
import os
import sys

import click

from edms.application.unit_of_work import command
from edms.audit import AuditContext
from edms.cli.group import _services, _settings, main
from edms.config import ConfigError, refuse_public_secrets
from edms.db import make_engine
from edms.notifications.models import STATUS_LABELS as NOTIFICATION_STATUSES
from edms.signatures.totp_secrets import sealing_key


@main.command()
def init() -> None:
    """Create the data directory, migrate the database and create the organisation PKI (once)."""
    from edms.migrate import current_revision, head_revision, upgrade
    from edms.pki import PkiError, PkiStore

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    before = current_revision(engine)
    upgrade(engine, totp_sealing_key=sealing_key(settings))
    click.echo(f"Database {engine.url.render_as_string(hide_password=True)}: {before or 'empty'} -> {head_revision()}")
    store = PkiStore.for_settings(settings)
    try:
        created = store.create(settings.organisation)
    except PkiError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Organisation PKI {'created' if created else 'kept'} in {store.location}")
    _prepare_blob_store(settings, engine)


def _prepare_blob_store(settings, engine) -> None:
    """Say where stored files live; an object store's bucket is created with Object Lock here (once)."""
    from edms.documents.blobstores import ObjectStoreError, S3BlobStore, open_blob_store

    try:
        blobs = open_blob_store(settings, engine)
        if isinstance(blobs, S3BlobStore):
            created = blobs.ensure_bucket()
            click.echo(f"Object store bucket {blobs.location.bucket} {'created' if created else 'kept'} "
                       "(Object Lock, COMPLIANCE mode)")
    except (ConfigError, ObjectStoreError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Stored files: {blobs!r}")


@main.command()
def demo() -> None:
    """Create demo users (one per role) and one demo OOS case per regime, and print the credentials."""
    from edms.demo import DEMO_PASSWORD, create_demo_users
    from edms.demo_cases import create_demo_cases

    services = _services(_settings())
    with command(services.sessions) as session:
        results = create_demo_users(services, session)
    with command(services.sessions) as session:
        cases = create_demo_cases(services, session, DEMO_PASSWORD)
        references = [f"{case.reference} ({case.jurisdiction}, lot {case.lot})" for case in cases]
    click.echo(f"Demo accounts (password for all: {DEMO_PASSWORD})")
    for person, created in results:
        state = "created" if created else "exists"
        click.echo(f"  {person.username:<18} {person.role:<11} {person.printed_name} [{state}]")
    if references:
        click.echo("Demo OOS cases: " + ", ".join(references))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
def serve(host: str, port: int, threads: int) -> None:
    """Serve edms with the waitress WSGI server."""
    from waitress import serve as waitress_serve

    from edms.app import create_app
    from edms.migrate import SchemaOutOfDate
    from edms.pki import PkiError

    settings = _settings()
    try:
        refuse_public_secrets(settings, host=host)
        app = create_app(settings)
    except (SchemaOutOfDate, ConfigError, PkiError) as exc:
        raise click.ClickException(str(exc)) from exc
    # What start-up loaded (modules, templates, forms, the PKI) lives as long as the process: kept out of the
    # collector's full passes, each of which otherwise walks those ~200 000 objects (~0.1 s with every thread
    # stopped) every few thousand requests.
    gc.collect()
    gc.freeze()
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
    from edms.application.accounts import create_account
    from edms.users.errors import AccountError
    from edms.users.profiles import Profile

    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise click.ClickException("no password on standard input")
    services = _services(_settings())
    try:
        with command(services.sessions) as session:
            created = create_account(
                services, session, AuditContext.system("edms user create (console)"),
                username=username,
                profile=Profile(printed_name=printed_name, title=title, email=email, timezone=zone),
                roles=set(roles), password=password, must_change_password=False,
            )
            name = created.username
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created {name}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def verify(as_json: bool) -> None:
    """Verify the audit chain, its signed checkpoints and every other registered check.

    Exits with status 1 if anything is broken; the first broken item is named precisely.
    """
    import json

    from edms.application import audit_trail
    from edms.pki import PkiError, trust_anchors

    services = _services(_settings())
    try:
        trust = trust_anchors(services.settings)
    except PkiError as exc:
        raise click.ClickException(str(exc)) from exc
    with command(services.sessions) as session:
        report = audit_trail.verify(services, session, AuditContext.system("edms verify (console)"), trust,
                                    signature_workers=os.cpu_count() or 1)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(report.summary())
        if report.chain_head:
            click.echo(f"chain head: seq {report.chain_head[0]} {report.chain_head[1]}")
        if report.first_problem:
            click.echo(f"first broken item: {report.first_problem.describe()}")
            for problem in report.problems[1:]:
                click.echo(f"  also: {problem.describe()}")
            if report.problem_count > len(report.problems):
                click.echo(f"  ... and {report.problem_count - len(report.problems)} more")
        for warning in report.warnings:
            click.echo(f"WARN: {warning.describe()}")
    if not report.ok:
        sys.exit(1)


@main.command()
def checkpoint() -> None:
    """Sign and time-stamp the audit chain's head now (also done every audit_checkpoint_every events)."""
    from edms.application import audit_trail
    from edms.audit.checkpoints import CheckpointError
    from edms.pki import PkiError

    services = _services(_settings())
    try:
        with command(services.sessions) as session:
            made = audit_trail.checkpoint(services, session, AuditContext.system("edms checkpoint (console)"))
    except (PkiError, CheckpointError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"checkpoint #{made.number}: seq {made.seq} {made.head_hash}, time-stamped {made.timestamped_at.isoformat()}")


@main.command("freeze-legacy-pdfs")
def freeze_legacy_pdfs() -> None:
    """Give each version submitted before signed PDFs a frozen PDF/A listing its earlier signatures.

    Their detached signatures stay the record of them: nothing is re-signed. A version in a final state
    also gets its document time-stamp."""
    from edms.application import signed_pdfs

    services = _services(_settings())
    with command(services.sessions) as session:
        frozen = signed_pdfs.freeze_legacy_pdfs(services, session, AuditContext.system("edms freeze-legacy-pdfs (console)"))
    click.echo(f"{frozen} version(s) given a frozen PDF")


@main.command()
@click.argument("archive", type=click.Path(dir_okay=False, writable=True))
def backup(archive: str) -> None:
    """Write every table, stored file and the organisation PKI to a ZIP archive."""
    from edms.application import backups

    services = _services(_settings())
    with open(archive, "wb") as out:
        description = backups.back_up(services, None, None, out)
    rows = sum(table["rows"] for table in description["tables"].values())
    click.echo(f"backup written to {archive}: {rows} rows, {len(description['files'])} files")


@main.command()
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
def restore(archive: str) -> None:
    """Restore a backup into an EMPTY database migrated with `edms init` (its PKI replaces the new one)."""
    from pathlib import Path

    from edms.application import backups
    from edms.backup import BackupError
    from edms.documents.blobstores import ObjectStoreError, open_blob_store

    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        description = backups.restore(engine, settings.data_dir, Path(archive), open_blob_store(settings, engine))
    except (BackupError, ConfigError, ObjectStoreError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"restored the backup of {description['created_at']}; run `edms verify` to check it")


@main.command("export")
@click.option("--document", "document_id", type=int, help="Export this document (its id).")
@click.option("--case", "case_id", help="Export every document of this case (its reference, e.g. CASE-2026-0001, "
                                        "or its id).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True),
              help="The ZIP file to write.")
@click.option("--language", type=click.Choice(["en", "ja"]), default="en", show_default=True,
              help="Language of the renditions.")
@click.option("--timezone", "zone", default="UTC", show_default=True, help="Time zone the renditions show times in.")
def export(document_id: int | None, case_id: str | None, output: str, language: str, zone: str) -> None:
    """Write an inspection package that verifies offline (`edms-verify FILE.zip`)."""
    from pathlib import Path

    from edms.application import inspection
    from edms.cases.references import find_case_id
    from edms.inspection.package import CASE, DOCUMENT, ExportError, Scope
    from edms.pki import PkiError
    from edms.signatures.errors import SigningFailed
    from edms.timeutil import is_valid_zone

    if (document_id is None) == (case_id is None):
        raise click.UsageError("give exactly one of --document ID and --case REFERENCE")
    if not is_valid_zone(zone):
        raise click.BadParameter(f"unknown time zone {zone!r}", param_hint="--timezone")
    services = _services(_settings())
    if case_id is not None:
        with services.sessions() as session:
            found = find_case_id(session, case_id)
        if found is None:
            raise click.BadParameter(f"no case has the reference or id {case_id!r}", param_hint="--case")
        scope = Scope(CASE, found)
    else:
        assert document_id is not None
        scope = Scope(DOCUMENT, document_id)
    try:
        with open(output, "wb") as out, command(services.sessions) as session:
            exported = inspection.export(services, session, AuditContext.system("edms export (console)"), scope, out,
                                         language=language, display_tz=zone)
    except (ExportError, SigningFailed, PkiError) as exc:
        Path(output).unlink(missing_ok=True)
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{output}: {exported.documents} document(s), {exported.versions} version(s), {exported.signatures} "
               f"signature(s), {exported.files} files; SHA-256 {exported.sha256}")
    click.echo(f"export recorded at audit seq {exported.export_seq}; verify with: edms-verify {output}")


@main.command()
def escalate() -> None:
    """Escalate overdue tasks to the role's other holders and QA, once per level; safe to run from cron often."""
    from edms.application.escalations import escalate_overdue
    from edms.timeutil import utc_now

    services = _services(_settings())
    with command(services.sessions) as session:
        made = escalate_overdue(services, session, AuditContext.system("edms escalate (console)"), utc_now())
    for escalation in made:
        click.echo(f"{escalation.task_key} level {escalation.level}: told {', '.join(escalation.recipients)}")
    click.echo(f"{len(made)} escalation(s)")


@main.command("archive-timestamps")
@click.option("--renew-before-days", default=365, show_default=True, type=click.IntRange(min=1),
              help="Renew evidence this long before its newest time-stamp's certificate chain expires.")
@click.option("--retired-algorithm", "retired", multiple=True, metavar="OID=YYYY-MM-DD",
              help="An algorithm (OID) retired from that date: evidence using it is renewed. Repeatable.")
def archive_timestamps(renew_before_days: int, retired: tuple[str, ...]) -> None:
    """Add the archive time-stamps that are due (idempotent; run it from cron or the worker).

    Exits with status 1 if any item could not be archived (each is named; the others are kept).
    """
    from datetime import UTC, datetime, timedelta

    from edms.application import archiving

    try:
        retirements = {oid: datetime.fromisoformat(day).replace(tzinfo=UTC)
                       for oid, _, day in (item.partition("=") for item in retired)}
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--retired-algorithm") from exc
    services = _services(_settings())
    policy = archiving.ArchivePolicy(renew_before=timedelta(days=renew_before_days), retired=retirements)
    reports = archiving.archive_timestamps(services, None, AuditContext.system("edms archive-timestamps (console)"),
                                           policy)
    for report in reports:
        click.echo(f"{report.name}: examined {report.examined}, archive time-stamps added {report.added}, "
                   f"problems {len(report.problems)}")
        for item, problem in report.problems:
            click.echo(f"  FAIL {item}: {problem}")
    if any(report.problems for report in reports):
        sys.exit(1)


@main.group()
def pki() -> None:
    """The organisation PKI over the retention period (administrator's acts, audited)."""


@pki.command("renew-tsa")
@click.option("--reason", required=True, help="Why (recorded in the audit trail).")
def pki_renew_tsa(reason: str) -> None:
    """Give the internal TSA a new key and certificate (before the old one's last year); then run
    `edms archive-timestamps` and restart the server."""
    from edms.application import pki_lifecycle
    from edms.pki import PkiError

    services = _services(_settings())
    try:
        with command(services.sessions) as session:
            replaced = pki_lifecycle.renew_tsa(services, session, AuditContext.system("edms pki renew-tsa (console)"),
                                               reason=reason)
            lines = [f"{item.name}: {item.new.subject.rfc4514_string()} until {item.new.not_valid_after_utc:%Y-%m-%d}"
                     for item in replaced]
    except PkiError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("\n".join(lines))


@pki.command("rollover-root")
@click.option("--reason", required=True, help="Why (recorded in the audit trail).")
def pki_rollover_root(reason: str) -> None:
    """A new root, signing CA and TSA (before the root's last years); the old root stays trusted for what
    it signed. Then run `edms archive-timestamps` and restart the server."""
    from edms.application import pki_lifecycle
    from edms.pki import PkiError

    services = _services(_settings())
    try:
        with command(services.sessions) as session:
            replaced = pki_lifecycle.rollover_root(services, session,
                                                   AuditContext.system("edms pki rollover-root (console)"), reason=reason)
            lines = [f"{item.name}: {item.new.subject.rfc4514_string()} until {item.new.not_valid_after_utc:%Y-%m-%d}"
                     for item in replaced]
    except PkiError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("\n".join(lines))


@main.group()
def outbox() -> None:
    """The notifications outbox: e-mailed through the [smtp] relay when configured, otherwise recorded."""


@outbox.command("deliver")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(min=1),
              help="Send at most this many notifications.")
def outbox_deliver(limit: int) -> None:
    """Send the waiting notifications (pending, and failed ones with attempts left); run it from cron.

    Exits with status 1 if any notification failed (each one is kept with its error and tried again later).
    """
    from edms.application import notifications

    services = _services(_settings())
    report = notifications.deliver(services, None, AuditContext.system("edms outbox deliver (console)"), limit=limit)
    if not report.configured:
        click.echo(f"SMTP is not configured (smtp.host is empty): nothing sent, {report.waiting} waiting")
        return
    click.echo(f"sent {report.sent}, failed {report.failed}, waiting {report.waiting}")
    if report.failed:
        sys.exit(1)


@outbox.command("list")
@click.option("--status", type=click.Choice(list(NOTIFICATION_STATUSES)), help="Only this status.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
def outbox_list(status: str | None, limit: int) -> None:
    """List notifications, newest first."""
    from edms.notifications.outbox import outbox as listing

    services = _services(_settings())
    with command(services.sessions) as session:
        for n in listing(session, status=status, limit=limit):
            error = f"  [{n.last_error}]" if n.last_error else ""
            click.echo(f"{n.id:>6} {n.created_at:%Y-%m-%d %H:%M:%SZ} {n.status:<8} {n.attempts} "
                       f"{n.recipient.username} <{n.recipient_email or '-'}> {n.kind}: {n.subject}{error}")

