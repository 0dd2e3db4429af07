"""The signatures the audit trail records, for a verification run to match against the stored rows,
kept in a scratch SQLite file rather than in memory, so that memory does not grow with the archive.

A run streams every signing event once (`add`), then takes out each batch of stored signatures it reads
(`take`: which of them are recorded); what is left at the end (`remaining`) was recorded but is no longer
stored. The file lives in a private temporary directory for the run only and is removed with it: it is
never read by a later run. It holds identifiers and sequence numbers only (a few dozen bytes each).
"""
from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType

_CHUNK = 500  # parameters per statement, well under SQLite's limit


class RecordedSignatures:
    """signature id -> the sequence number of the event recording it (the last one, if several do)."""

    def __init__(self) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="edms-verify-")
        self._db = sqlite3.connect(Path(self._directory.name) / "recorded.sqlite", isolation_level=None)
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -2048", "temp_store = FILE"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute("CREATE TABLE recorded (signature_id TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID")

    def __enter__(self) -> RecordedSignatures:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()
        self._directory.cleanup()

    def add(self, entries: Iterable[tuple[str, int]]) -> None:
        """Entries in the order of the events (a later event recording the same id replaces the earlier)."""
        self._db.execute("BEGIN")
        self._db.executemany("INSERT OR REPLACE INTO recorded (signature_id, seq) VALUES (?, ?)", entries)
        self._db.execute("COMMIT")

    def take(self, signature_ids: Sequence[str]) -> set[str]:
        """Which of `signature_ids` are recorded; they are taken out (each stored signature is read once)."""
        found: set[str] = set()
        for start in range(0, len(signature_ids), _CHUNK):
            chunk = signature_ids[start:start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            found.update(row[0] for row in self._db.execute(
                f"DELETE FROM recorded WHERE signature_id IN ({marks}) RETURNING signature_id", chunk))
        return found

    def remaining(self) -> Iterator[tuple[str, int]]:
        """What was recorded and not taken, by sequence number."""
        yield from self._db.execute("SELECT signature_id, seq FROM recorded ORDER BY seq, signature_id")
