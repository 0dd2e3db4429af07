"""The plans the engine itself makes for the statements the app runs (issue #15, scale): the list statements are
listened to while a request runs, then explained on the same engine."""
from __future__ import annotations

import re

from sqlalchemy import event

BIG_TABLES = ("cases", "documents", "notifications")


class Statements:
    """The list statements (with a LIMIT) on the big tables that the app runs while it is listened to."""

    def __init__(self, engine):
        self.engine, self.seen = engine, []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "LIMIT" in statement.upper() and any(
                re.search(rf"\bFROM {table}\b", statement) for table in BIG_TABLES):
            self.seen.append((statement, parameters))


def plans(engine, statements, *, planners_choice: bool = False) -> list[str]:
    """Each statement's plan. On PostgreSQL sequential scans are priced out (a small test table makes one the
    cheapest, so an index the plan could use would not show); `planners_choice=True` keeps the planner's own
    costs, for a test that the plan it really picks reads in order (its statistics being those of a big table)."""
    found = []
    with engine.connect() as connection:
        for statement, parameters in statements:
            if engine.dialect.name == "sqlite":
                rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
                found.append("\n".join(str(row[-1]) for row in rows))
            else:
                if not planners_choice:
                    connection.exec_driver_sql("SET enable_seqscan = off")
                rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters).all()
                found.append("\n".join(str(row[0]) for row in rows))
        connection.rollback()
    return found


def full_scans(engine, plan: str) -> list[str]:
    """The lines of `plan` that read a big table whole."""
    if engine.dialect.name == "sqlite":
        return [line for line in plan.splitlines()
                if re.search(rf"\bSCAN ({'|'.join(BIG_TABLES)})\b(?! USING (COVERING )?INDEX)", line)]
    return [line for line in plan.splitlines() if re.search(rf"Seq Scan on ({'|'.join(BIG_TABLES)})\b", line)]
