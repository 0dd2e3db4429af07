"""Alembic, driven from code: upgrade to head, and the check that refuses an old schema."""
from __future__ import annotations

import functools

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from edms.resources import MIGRATIONS_DIR


class SchemaOutOfDate(RuntimeError):
    pass


def alembic_config(engine: Engine, totp_sealing_key: bytes | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    # 0009 seals stored TOTP secrets under the server key (edms.signatures.totp_secrets).
    config.attributes["totp_sealing_key"] = totp_sealing_key
    return config


@functools.cache
def head_revision() -> str:
    """The newest migration this code has, read once per process (Alembic imports every migration script to
    find it: ~25 ms at each app's schema check)."""
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head", *, totp_sealing_key: bytes | None = None) -> None:
    command.upgrade(alembic_config(engine, totp_sealing_key), revision)


def check_schema(engine: Engine) -> None:
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"The database schema is at revision {current or 'none (empty database)'} but this version of edms "
            f"needs {head}. Back up the database, then run `edms migrate` once (or `edms init` on a new "
            f"installation) to migrate it; nodes never migrate on their own."
        )
