"""Backup and restore: every table, every stored file and the organisation PKI in one ZIP.

A backup restored into an empty database (of either engine) gives the same rows, hashes and chain head,
so `edms verify` passes on the copy (21 CFR 11.10(c), EU Annex 11 §7, ER/ES preservation). No Flask here.
"""
from __future__ import annotations

import base64
import hashlib
import json
import stat
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from sqlalchemy import Date, Engine, LargeBinary, func, select, text, update

import edms.models  # noqa: F401  (every table is known)
from edms import __version__
from edms.db import Base, UTCDateTime
from edms.documents.blobstore import BlobStore, FileBlobStore
from edms.documents.blobstores import DatabaseBlobStore
from edms.migrate import current_revision, head_revision
from edms.timeutil import isoformat_utc, utc_now

FORMAT = "edms-backup/1"
# Protected rows whose content freezes once this column is set: restored unfrozen, then frozen, so the
# triggers that refuse changes to frozen content (and new attachments on them) accept the restore.
FREEZE_COLUMN = "frozen_at"
# The only folders of the data directory a backup carries files for.
FILE_FOLDERS = ("blobs", "pki")


class BackupError(RuntimeError):
    pass


def _tables():
    return [table for table in Base.metadata.sorted_tables]


def _encode(column, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, UTCDateTime):
        return isoformat_utc(value)
    if isinstance(column.type, LargeBinary):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _decode(column, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, UTCDateTime):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(column.type, LargeBinary):
        return base64.b64decode(value)
    if isinstance(column.type, Date):
        return date.fromisoformat(value)
    return value


def _rows(engine: Engine, table) -> Iterator[bytes]:
    key = list(table.primary_key.columns)
    with engine.connect() as connection:
        for row in connection.execute(select(table).order_by(*key)).mappings():
            record = {column.name: _encode(column, row[column.name]) for column in table.columns}
            yield json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n"


def _in_files(blobs: BlobStore | None) -> bool:
    """Whether the stored files are the data directory's own (else an object store; the database's are rows)."""
    return blobs is None or isinstance(blobs, (FileBlobStore, DatabaseBlobStore))


def create_backup(engine: Engine, data_dir: Path, out: BinaryIO, blobs: BlobStore | None = None) -> dict[str, Any]:
    """Write the backup ZIP to `out`; returns its description (also stored as backup.json). The stored files
    come from `blobs/` of the data directory, from the table `blob_contents` (database store, with the other
    tables) or, for an object store, from the store itself (written as `blobs/ab/cd/<sha256>`)."""
    description: dict[str, Any] = {
        "format": FORMAT, "created_at": isoformat_utc(utc_now()), "app_version": __version__,
        "schema_revision": current_revision(engine), "tables": {}, "files": {},
    }
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for table in _tables():
            digest, count = hashlib.sha256(), 0
            with archive.open(f"tables/{table.name}.jsonl", "w", force_zip64=True) as member:
                for line in _rows(engine, table):
                    member.write(line)
                    digest.update(line)
                    count += 1
            description["tables"][table.name] = {"rows": count, "sha256": digest.hexdigest()}
        for folder in FILE_FOLDERS:
            root = data_dir / folder
            for path in sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []:
                data = path.read_bytes()
                name = f"{folder}/{path.relative_to(root).as_posix()}"
                archive.writestr(name, data)
                description["files"][name] = hashlib.sha256(data).hexdigest()
        if blobs is not None and not _in_files(blobs):
            for sha256 in blobs.iter_hashes():
                name = f"blobs/{sha256[:2]}/{sha256[2:4]}/{sha256}"
                if name not in description["files"]:
                    archive.writestr(name, blobs.get(sha256))  # re-hashed on the way out
                    description["files"][name] = sha256
        archive.writestr("backup.json", json.dumps(description, indent=2, sort_keys=True))
    return description


def restore_backup(archive_path: Path, engine: Engine, data_dir: Path, blobs: BlobStore | None = None) -> dict[str, Any]:
    """Restore into an EMPTY database already migrated to the backup's schema revision.

    The data directory may hold only what `edms init` made for that empty database: its PKI, which the
    backup's PKI replaces (moved aside, never deleted), because the restored signatures verify only
    under the keys that made them and the new keys have signed nothing. Stored files already there
    are refused: they would belong to another instance. Every file lands inside the data directory, except the
    stored files when `blobs` is an object store: they are put there (it must be empty)."""
    with zipfile.ZipFile(archive_path) as archive:
        description = json.loads(archive.read("backup.json"))
        if description.get("format") != FORMAT:
            raise BackupError(f"not an edms backup ({description.get('format')!r})")
        revision = current_revision(engine)
        if description["schema_revision"] != revision or revision != head_revision():
            raise BackupError(
                f"the backup is at schema {description['schema_revision']}, the database at {revision}: "
                "migrate an empty database with `edms init` to the same version first"
            )
        targets = {name: _file_target(archive, data_dir, name) for name in description["files"]}
        _check_members(archive, description)
        with engine.begin() as connection:
            for table in _tables():
                if connection.execute(select(func.count()).select_from(table)).scalar_one():
                    raise BackupError(f"the database is not empty (table {table.name} has rows): restore needs an empty database")
            _check_no_stored_files(data_dir, blobs)
            for table in _tables():
                _restore_table(connection, archive, table)
            _refreeze(connection)
            _reset_sequences(connection)
            _set_pki_aside(data_dir, carried=any(name.startswith("pki/") for name in targets))
            for name, target in targets.items():
                if name.startswith("blobs/") and blobs is not None and not _in_files(blobs):
                    # Into the object store before the rows commit: a failure leaves orphan objects, never a
                    # restored record whose file is missing. Each was checked against backup.json above.
                    blobs.put(archive.read(name))
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(name))
    return description


def _file_target(archive: zipfile.ZipFile, data_dir: Path, name: object) -> Path:
    """Where a listed file goes: under blobs/ or pki/ of the data directory, whatever the archive says."""
    parts = PurePosixPath(name).parts if isinstance(name, str) and "\\" not in name and ":" not in name else ()
    if (len(parts) < 2 or parts[0] not in FILE_FOLDERS or any(part in {"", ".", ".."} for part in parts)
            or name != "/".join(parts)):
        raise BackupError(f"the backup lists a file outside blobs/ and pki/: {name!r}; nothing was restored")
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise BackupError(f"the backup lists {name} but does not hold it; nothing was restored") from None
    if stat.S_ISLNK(info.external_attr >> 16):
        raise BackupError(f"{name} is a symbolic link; nothing was restored")
    root = data_dir.resolve()
    target = (data_dir / Path(*parts)).resolve()
    if not target.is_relative_to(root):
        raise BackupError(f"{name} would be written outside the data directory; nothing was restored")
    return data_dir / Path(*parts)


def _check_no_stored_files(data_dir: Path, store: BlobStore | None = None) -> None:
    blobs = data_dir / "blobs"
    if blobs.exists() and any(path.is_file() for path in blobs.rglob("*")):
        raise BackupError(f"the data directory is not empty ({blobs} holds stored files): restore needs a new data directory")
    if store is not None and not _in_files(store) and next(iter(store.iter_hashes()), None) is not None:
        raise BackupError(f"the object store is not empty ({store!r} holds stored files): restore needs a new bucket")


def _set_pki_aside(data_dir: Path, *, carried: bool) -> None:
    pki = data_dir / "pki"
    if carried and pki.exists():
        pki.rename(data_dir / f"pki.replaced-by-restore-{utc_now():%Y%m%dT%H%M%SZ}")


def _check_members(archive: zipfile.ZipFile, description: dict[str, Any]) -> None:
    for table, expected in description["tables"].items():
        actual = hashlib.sha256(archive.read(f"tables/{table}.jsonl")).hexdigest()
        if actual != expected["sha256"]:
            raise BackupError(f"tables/{table}.jsonl is damaged: SHA-256 {actual}, recorded {expected['sha256']}")
    for name, expected in description["files"].items():
        actual = hashlib.sha256(archive.read(name)).hexdigest()
        if actual != expected:
            raise BackupError(f"{name} is damaged: SHA-256 {actual}, recorded {expected}")


def _restore_table(connection, archive: zipfile.ZipFile, table) -> None:
    name = f"tables/{table.name}.jsonl"
    if name not in archive.namelist():
        return
    columns = {column.name: column for column in table.columns}
    freeze = FREEZE_COLUMN in columns
    frozen: list[tuple[dict[str, Any], Any]] = []
    batch: list[dict[str, Any]] = []
    with archive.open(name) as member:
        for line in member:
            raw = json.loads(line)
            row = {key: _decode(columns[key], value) for key, value in raw.items()}
            if freeze and row.get(FREEZE_COLUMN) is not None:
                frozen.append(({c.name: row[c.name] for c in table.primary_key.columns}, row[FREEZE_COLUMN]))
                row[FREEZE_COLUMN] = None
            batch.append(row)
            if len(batch) >= 1000:
                connection.execute(table.insert(), batch)
                batch = []
    if batch:
        connection.execute(table.insert(), batch)
    if frozen:
        # Freeze after the dependent rows (attachments) are in: done once all tables are restored.
        connection.info.setdefault("edms_freeze", []).append((table, frozen))


def _refreeze(connection) -> None:
    for table, frozen in connection.info.pop("edms_freeze", []):
        for key, value in frozen:
            condition = [table.c[name] == key_value for name, key_value in key.items()]
            connection.execute(update(table).where(*condition).values({FREEZE_COLUMN: value}))


def _reset_sequences(connection) -> None:
    """PostgreSQL: explicit ids were inserted, so each serial sequence continues after the highest."""
    if connection.dialect.name != "postgresql":
        return
    for table in _tables():
        for column in table.primary_key.columns:
            sequence = connection.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name}
            ).scalar()
            if sequence:
                connection.execute(
                    text(f"SELECT setval(:s, COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false)"),
                    {"s": sequence},
                )
