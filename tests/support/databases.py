"""Templates made once per engine per run (the migrated database, the signed case); each test gets its own copy."""
from __future__ import annotations

import itertools
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

from edms.db import make_engine
from edms.migrate import upgrade

_counter = itertools.count()


def migrated_sqlite_template(directory: Path) -> Path:
    path = directory / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


def sqlite_copy(template: Path, directory: Path) -> str:
    target = directory / "edms.sqlite3"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


def migrated_postgres_template(admin_url: str, server_url_for) -> str:
    name = f"edms_template_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = make_engine(server_url_for(name))
    upgrade(engine)
    engine.dispose()
    return name


def postgres_copy(admin_url: str, template: str, server_url_for) -> tuple[str, str]:
    name = f"edms_test_{next(_counter)}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY'))
    admin.dispose()
    return name, server_url_for(name)


def drop_postgres(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@dataclass(frozen=True)
class CaseTemplate:
    """A database made once per run to be copied for each test (a SQLite file or a PostgreSQL template
    database), the data directory that goes with it (blobs, PKI) and what was made in it."""

    database: Path | str
    data_dir: Path
    case: object
