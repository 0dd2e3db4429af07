"""The integrity run (`edms verify`): checks that re-derive what was protected and compare, on one snapshot.

`run_checks(engine, checks)` reads the database in one consistent, read-only snapshot and runs the given
checks in order. This module holds the machinery (`VerificationRun`, the report) and the first check, the
audit chain (hash of every event, previous-hash links, sequence without gaps from 1, time never
decreasing). Which checks make up a run is decided once, in `edms.application.integrity`.

The chain is streamed in keyset batches, so memory stays flat however long the chain is. No Flask here.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from operator import le, methodcaller
from typing import Any

from sqlalchemy import Connection, Engine, Row, create_engine, event, text
from sqlalchemy.pool import NullPool

from edms.audit.chain import GENESIS_HASH, HASHED_FIELDS, canonical_bytes, event_hash
from edms.audit.snapshots import shared_snapshots
from edms.errors import N_
from edms.timeutil import utc_now

log = logging.getLogger("edms")

BATCH_SIZE = 5000
# Enough to act on; the total is always counted. Keeps memory flat when everything is broken.
MAX_PROBLEMS_KEPT = 100


@dataclass(frozen=True)
class Problem:
    """One broken item. `message` is an English msgid with %(name)s placeholders, translated where shown."""

    check: str
    table: str
    key: str  # the row as people name it: "seq 17", "#3"
    message: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.message % self.params if self.params else self.message

    def describe(self) -> str:
        return f"{self.table} {self.key}: {self.text}"

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "table": self.table, "key": self.key, "description": self.describe()}


@dataclass
class VerificationReport:
    started_at: datetime
    finished_at: datetime | None = None
    checks: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # rows examined, per table
    problems: list[Problem] = field(default_factory=list)  # the first MAX_PROBLEMS_KEPT, in the order found
    problem_count: int = 0
    # What does not make the run fail but must never pass silently (e.g. events not yet witnessed).
    warnings: list[Problem] = field(default_factory=list)
    chain_head: tuple[int, str] | None = None  # (seq, hash) of the last event

    @property
    def ok(self) -> bool:
        return self.finished_at is not None and self.problem_count == 0

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def summary(self) -> str:
        examined = ", ".join(f"{count} {table}" for table, count in self.counts.items()) or "nothing"
        if self.ok:
            warned = f"; {len(self.warnings)} warning(s)" if self.warnings else ""
            return f"verified: {examined} examined, no problem found{warned}"
        return f"FAILED: {self.problem_count} problem(s) in {examined} examined"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "summary": self.summary(),
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "checks": list(self.checks),
            "counts": dict(self.counts),
            "chain_head": {"seq": self.chain_head[0], "hash": self.chain_head[1]} if self.chain_head else None,
            "problem_count": self.problem_count,
            "first_problem": self.first_problem.to_dict() if self.first_problem else None,
            "problems": [problem.to_dict() for problem in self.problems],
            "warnings": [warning.to_dict() for warning in self.warnings],
        }


class VerificationRun:
    """What a check gets: the snapshot connection, the caller's options, and where to report."""

    def __init__(self, connection: Connection, report: VerificationReport, options: Mapping[str, Any]) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name
        self.options = options
        self.state: dict[str, Any] = {}  # what one check leaves for a later one (e.g. the chain's end)
        self._report = report
        self.current_check = ""

    def examined(self, table: str, count: int = 1) -> None:
        self._report.counts[table] = self._report.counts.get(table, 0) + count

    def problem(self, table: str, key: str, message: str, **params: Any) -> None:
        self._report.problem_count += 1
        if len(self._report.problems) < MAX_PROBLEMS_KEPT:
            self._report.problems.append(Problem(self.current_check, table, key, message, params))

    def warning(self, table: str, key: str, message: str, **params: Any) -> None:
        """Something to act on that is not a broken item: reported (WARN), the run still verifies."""
        if len(self._report.warnings) < MAX_PROBLEMS_KEPT:
            self._report.warnings.append(Problem(self.current_check, table, key, message, params))

    def set_chain_head(self, seq: int, head_hash: str) -> None:
        self._report.chain_head = (seq, head_hash)


CheckFunction = Callable[[VerificationRun], None]


@dataclass(frozen=True)
class Check:
    """One check of the integrity run. `run(verification_run)` reads through `verification_run.connection`,
    counts what it examined with `.examined(table, n)` and reports each broken item with
    `.problem(table, key, message, **params)`, where `message` is marked with `N_()` so that the pages can
    translate it. `description` is such a msgid too."""

    name: str
    run: CheckFunction
    description: str
    # Reads where the audit chain ends (`run.state`): when the chain check runs alongside the others, this
    # check waits for it.
    after_chain: bool = False


def run_checks(engine: Engine, checks: Sequence[Check], *, only: Collection[str] | None = None,
               batch_size: int = BATCH_SIZE, chain_alongside: bool = False, **options: Any) -> VerificationReport:
    """Run `checks` in order (or those named in `only`) on one read-only snapshot of the database.

    `options` are handed to the checks, e.g. `trust=` (see `edms.pki.TrustAnchors`) for signatures.
    A check that crashes is itself a failure: the report never says "verified" for what was not checked.

    `chain_alongside` (`edms verify`): the audit chain check, first, runs in a thread on a second connection in
    the same snapshot while the others run (it hashes on one core while the signature workers judge on the
    others); a check marked `after_chain` waits for it. The report is the same as one check after another:
    each check reports into its own part, and the parts are joined in the order of `checks`.
    """
    report = VerificationReport(started_at=utc_now())
    selected = [check for check in checks if only is None or check.name in only]
    report.checks = [check.name for check in selected]
    options = {"batch_size": batch_size, **options}
    state: dict[str, Any] = {}  # shared by the checks of the run (e.g. where the chain ends)
    parts: list[VerificationReport] = []
    alongside = chain_alongside and len(selected) > 1 and selected[0].name == "audit_chain"
    with shared_snapshots(engine, 2) if alongside else nullcontext(None) as connections:
        if connections is None:  # one connection, one check after another
            with read_snapshot(engine) as connection:
                for check in selected:
                    parts.append(_run_check(connection, check, options, state))
        else:
            chain_part = VerificationReport(started_at=report.started_at)
            parts.append(chain_part)
            chain = threading.Thread(target=_run_check, args=(connections[1], selected[0], options, state, chain_part),
                                     name="edms-verify-audit-chain", daemon=True)
            chain.start()
            try:
                for check in selected[1:]:
                    if check.after_chain:
                        chain.join()
                    parts.append(_run_check(connections[0], check, options, state))
            finally:
                chain.join()
    for part in parts:
        _join(report, part)
    report.finished_at = utc_now()
    return report


def _run_check(connection: Connection, check: Check, options: Mapping[str, Any], state: dict[str, Any],
               part: VerificationReport | None = None) -> VerificationReport:
    """One check, reporting into a part of its own (the run's report is joined from the parts, in order)."""
    part = part or VerificationReport(started_at=utc_now())
    run = VerificationRun(connection, part, options)
    run.state = state
    run.current_check = check.name
    try:
        check.run(run)
    except Exception as exc:  # noqa: BLE001 (reported, never swallowed)
        log.exception("verification check %s could not run", check.name)
        run.problem("check", check.name, N_("the check could not run: %(error)s"), error=f"{type(exc).__name__}: {exc}")
    return part


def _join(report: VerificationReport, part: VerificationReport) -> None:
    """`part` added to `report` as if its check had reported into it: the first problems and warnings kept."""
    for table, count in part.counts.items():
        report.counts[table] = report.counts.get(table, 0) + count
    report.problem_count += part.problem_count
    report.problems.extend(part.problems[:MAX_PROBLEMS_KEPT - len(report.problems)])
    report.warnings.extend(part.warnings[:MAX_PROBLEMS_KEPT - len(report.warnings)])
    if part.chain_head is not None:
        report.chain_head = part.chain_head


@contextmanager
def read_snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection that sees one consistent state of the database and writes nothing.

    PostgreSQL: a REPEATABLE READ, READ ONLY transaction. SQLite: the application's engine begins every
    transaction IMMEDIATE (a write lock); verification would hold it for its whole run, so it reads through
    its own connection in a deferred transaction, which WAL turns into a snapshot while writers go on.
    """
    if engine.dialect.name == "sqlite":
        reader = create_engine(engine.url, poolclass=NullPool, connect_args={"timeout": 30})

        @event.listens_for(reader, "connect")
        def _read_only(dbapi_connection: Any, _record: Any) -> None:  # the driver's own sqlite3 connection
            dbapi_connection.isolation_level = None  # transactions only where we say BEGIN
            dbapi_connection.execute("PRAGMA query_only = ON")

        @event.listens_for(reader, "begin")
        def _deferred_begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN DEFERRED")

        try:
            with reader.connect() as connection, connection.begin():
                yield connection
        finally:
            reader.dispose()
        return
    with engine.connect().execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True) as connection:
        with connection.begin():
            yield connection


# --- the audit chain ----------------------------------------------------------------------------------

_SORTED_FIELDS = tuple(sorted(HASHED_FIELDS))
_SEQ, _TIME, _PREV = (_SORTED_FIELDS.index(name) for name in ("seq", "occurred_at", "prev_hash"))
_HASH = len(_SORTED_FIELDS)  # the stored hash follows the hashed fields in each row
# Encodes a list of values exactly as chain.canonical_bytes encodes each value, in one C call. The item
# separator "\x00" never occurs inside an encoded value (JSON escapes every control character), so
# splitting on it gives each value's JSON back.
_encode_values = json.JSONEncoder(ensure_ascii=False, separators=("\x00", ":")).encode
# What JSON (ensure_ascii=False) escapes in a string; text without any of these is its own JSON content.
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')
_hexdigest = methodcaller("hexdigest")

# SQLite keeps times as text in exactly this form (SQLAlchemy's storage format); anything else was not
# written by edms. ASCII digits only: \d would also accept other scripts' digits.
_SQLITE_TIME = "[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{6}"
_SQLITE_TIME_RE = re.compile(_SQLITE_TIME)
_SQLITE_TIMES_RE = re.compile(f"(?:{_SQLITE_TIME}\n)*")
# PostgreSQL renders the canonical form itself.
_POSTGRES_TIME = "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"


def chain_rows_sql(dialect: str) -> str:
    """One keyset batch of events as plain tuples: hashed fields in sorted order, then the stored hash."""
    columns = ", ".join(
        f"{_POSTGRES_TIME} AS occurred_at" if name == "occurred_at" and dialect == "postgresql" else name
        for name in _SORTED_FIELDS
    )
    return f"SELECT {columns}, hash FROM audit_event WHERE seq > :after ORDER BY seq LIMIT :limit"


def canonical_time(dialect: str, stored: object) -> str | None:
    """The stored time in the form `isoformat_utc` hashed, or None if it is not a time edms wrote."""
    if dialect != "sqlite":
        return stored if isinstance(stored, str) else None
    if isinstance(stored, str) and _SQLITE_TIME_RE.fullmatch(stored):
        return f"{stored[:10]}T{stored[11:]}Z"
    return None


def _canonical_times(dialect: str, rows: Sequence[Row[Any]]) -> list[str] | None:
    """`canonical_time` of a whole batch at once, or None if any of them is not a time edms wrote."""
    stored = [row[_TIME] for row in rows]
    if dialect != "sqlite":
        return None if None in stored else stored
    try:
        if not _SQLITE_TIMES_RE.fullmatch("\n".join(stored) + "\n"):
            return None
    except TypeError:  # not text at all
        return None
    return [value.replace(" ", "T") + "Z" for value in stored]


def chain_fields(dialect: str, row: Sequence[Any]) -> dict[str, Any]:
    """One row as `AuditEvent.hashed_fields()` gives it (the reference path; a test proves they agree)."""
    fields = dict(zip(_SORTED_FIELDS, row, strict=False))  # the stored hash after them is not a field
    fields["occurred_at"] = canonical_time(dialect, row[_TIME])
    return fields


def batch_hashes(rows: Sequence[Sequence[Any]], times: list[str]) -> list[str]:
    """SHA-256 of the canonical bytes of each row (as from `chain_rows_sql`, with `times` canonical),
    with no Python code run per row: the work happens in C, a column or a batch at a time."""
    return list(map(_hexdigest, map(hashlib.sha256, batch_canonical(rows, times))))


def batch_canonical(rows: Sequence[Sequence[Any]], times: list[str]) -> list[bytes]:
    """The canonical bytes of each row (as from `chain_rows_sql`, with `times` canonical), built in C.

    A column whose values are all text needing no JSON escape, or all integers, goes into the template
    as it is (quoted, for text); any other column is JSON-encoded value by value. Both give exactly the
    bytes `chain.canonical_bytes` gives (tests compare them on random and hostile values).
    """
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
    columns[_TIME] = times
    parts: list[str] = []
    arguments: list[Sequence[Any]] = []
    for name, column in zip(_SORTED_FIELDS, columns, strict=False):  # not the stored hash's column
        kinds = set(map(type, column))
        if kinds == {str} and not _NEEDS_ESCAPE.search("".join(column)):
            parts.append(f'"{name}":"%s"')
            arguments.append(column)
        elif kinds == {int}:
            parts.append(f'"{name}":%s')
            arguments.append(column)
        else:
            parts.append(f'"{name}":%s')
            arguments.append(_encode_values(list(column))[1:-1].split("\x00"))
    texts = map(("{" + ",".join(parts) + "}").__mod__, zip(*arguments, strict=True))
    return list(map(str.encode, texts))


def batch_leaves(dialect: str, rows: Sequence[Sequence[Any]]) -> list[bytes]:
    """The canonical bytes of each row (as from `chain_rows_sql`): the leaves of the audit log's Merkle
    tree. A row holding what no event can hold gives empty bytes (the chain check names it)."""
    times = _canonical_times(dialect, rows)  # type: ignore[arg-type]
    if times is not None:
        try:
            return batch_canonical(rows, times)
        except (TypeError, ValueError):
            pass
    leaves = []
    for row in rows:
        try:
            leaves.append(canonical_bytes(chain_fields(dialect, row)))
        except (TypeError, ValueError):
            leaves.append(b"")
    return leaves


def check_audit_chain(run: VerificationRun) -> None:
    """Each batch is checked whole at C speed; only a batch with a problem is walked row by row to name it."""
    statement = text(chain_rows_sql(run.dialect))
    batch_size = run.options["batch_size"]
    last_seq, last_hash, last_time = 0, GENESIS_HASH, ""
    while True:
        rows = run.connection.execute(statement, {"after": last_seq, "limit": batch_size}).all()
        if not rows:
            break
        run.examined("audit_event", len(rows))
        times = _canonical_times(run.dialect, rows)
        if times is None or not _batch_is_intact(rows, times, last_seq, last_hash, last_time):
            last_time = _report_batch(run, rows, last_seq, last_hash, last_time)
        else:
            last_time = times[-1]
        last_seq, last_hash = rows[-1][_SEQ], rows[-1][_HASH]
    run.state["audit_event.end"] = last_seq
    if last_seq:
        run.set_chain_head(last_seq, last_hash)


def _batch_is_intact(rows: Sequence[Row[Any]], times: list[str], last_seq: int, last_hash: str, last_time: str) -> bool:
    """The common case, at C speed: every check of the batch at once."""
    seqs = [row[_SEQ] for row in rows]
    stored = [row[_HASH] for row in rows]
    previous = [row[_PREV] for row in rows]
    if seqs != list(range(last_seq + 1, last_seq + 1 + len(rows))):
        return False
    if previous[0] != last_hash or previous[1:] != stored[:-1]:
        return False
    if not all(map(le, [last_time, *times[:-1]], times)):
        return False
    try:
        return batch_hashes(rows, times) == stored
    except (TypeError, ValueError):  # a value no event can hold (e.g. binary data written into a text column)
        return False


def _report_batch(run: VerificationRun, rows: Sequence[Row[Any]], last_seq: int, last_hash: str, last_time: str) -> str:
    """The slow path for a batch with a problem: row by row, in seq order, with the reference hash function.
    Returns the last readable time, for the next batch."""
    for row in rows:
        seq, stored = row[_SEQ], row[_HASH]
        key = f"seq {seq}"
        if seq != last_seq + 1:
            missing = f"seq {last_seq + 1}" if seq == last_seq + 2 else f"seq {last_seq + 1}–{seq - 1}"
            if last_seq == 0:
                run.problem("audit_event", missing, N_("missing: the chain does not start at seq 1 (rows removed)"))
            else:
                run.problem("audit_event", missing, N_("missing: seq %(before)s is followed by seq %(after)s (rows removed)"),
                            before=last_seq, after=seq)
        if row[_PREV] != last_hash:
            run.problem("audit_event", key, N_("previous-hash link broken (row inserted, removed or reordered before it)"))
        fields = chain_fields(run.dialect, row)
        occurred: str | None = fields["occurred_at"]
        try:
            intact = event_hash(fields) == stored
        except (TypeError, ValueError):
            run.problem("audit_event", key, N_("holds a value no audit event can have (binary data in a text column)"))
        else:
            if not intact:
                run.problem("audit_event", key, N_("stored hash does not match its content (changed after it was written)"))
        if occurred is None:
            run.problem("audit_event", key,
                        N_("occurred_at is not a time in the form edms stores (changed after it was written)"))
        elif occurred < last_time:
            run.problem("audit_event", key, N_("occurred_at %(time)s is earlier than the event before it (%(before)s)"),
                        time=occurred, before=last_time)
        last_seq, last_hash = seq, stored
        if occurred is not None:
            last_time = occurred
    return last_time
