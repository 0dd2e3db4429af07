"""What the server-side session record costs each request: finding the session by the hash of the cookie's
id (and deciding whether its last_seen is due), against loading the signed-in user, which every request
already did; and how many writes reading pages makes (last_seen is written at most once a minute).

    python benches/bench_sessions.py --sessions 2000 --requests 5000

Builds a migrated database (SQLite in a temporary directory, or BENCH_DATABASE_URL for PostgreSQL) with one
person and N open sessions, then times the per-request lookups in one process. Prints JSON lines.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import tempfile
import time
from pathlib import Path

from sqlalchemy import event

from edms.db import make_engine, make_session_factory, transaction
from edms.migrate import upgrade
from edms.timeutil import utc_now
from edms.users.models import User
from edms.users.session_records import find_session
from edms.users.sessions import start_web_session, touch_web_session


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{Path(directory) / 'bench.sqlite3'}"
        engine = make_engine(url)
        upgrade(engine)
        sessions = make_session_factory(engine)
        with transaction(sessions) as session:
            user = User(username="kenji.sato", printed_name="Kenji Sato", created_at=utc_now(),
                        must_change_password=False)
            session.add(user)
            session.flush()
            ids = [secrets.token_hex(16) for _ in range(args.sessions)]
            for sid in ids:
                start_web_session(session, user, sid, client_addr="10.0.0.17", user_agent="Mozilla/5.0 bench")
            user_id = user.id
        writes = {"count": 0}

        @event.listens_for(engine, "before_cursor_execute")
        def _count(_conn, _cursor, statement, *_rest):
            if statement.lstrip().upper().startswith("UPDATE WEB_SESSIONS"):
                writes["count"] += 1

        with sessions() as session:
            started = time.perf_counter()
            for _ in range(args.requests):
                session.get(User, user_id, populate_existing=True)
            raw = (time.perf_counter() - started) / args.requests
            started = time.perf_counter()
            for number in range(args.requests):
                record = find_session(session, ids[number % len(ids)])
                assert record is not None and record.open
                touch_web_session(record, utc_now())
            session.commit()
            measured = (time.perf_counter() - started) / args.requests
        engine.dispose()
    dialect = url.split(":", 1)[0].split("+")[0]
    print(json.dumps({"bench": "session_record_lookup_per_request", "engine": dialect, "measured": measured * 1e3,
                      "raw": raw * 1e3, "ratio": measured / raw, "unit": "ms",
                      "raw_is": "loading the signed-in user (already done per request)", "sessions": args.sessions}))
    print(json.dumps({"bench": "session_record_writes_per_request", "engine": dialect,
                      "measured": writes["count"] / args.requests, "raw": 0, "ratio": None, "unit": "writes",
                      "requests": args.requests}))


if __name__ == "__main__":
    main()
