"""The connection pool on PostgreSQL (edms.db.make_engine): a connection that has been idle is pinged before a
request uses it, and replaced when the server ended it; one returned to the pool moments ago is used without
that round trip. A connection that died within that moment fails the statement that uses it, and SQLAlchemy
then replaces the pool's connections, so the next request is served."""
from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

import edms.db
from edms.db import POOL_SIZE, make_engine


@pytest.fixture
def postgres_engine(database_url):
    if database_url.startswith("sqlite"):
        pytest.skip("the ping concerns PostgreSQL connections (SQLite opens files)")
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def backend_of(engine: Engine) -> int:
    """The server process of the pooled connection a unit of work gets (the connection goes back to the pool)."""
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def end_backend(database_url: str, pid: int) -> None:
    """The server ends that connection behind the pool's back (a restart, an administrator, a network cut)."""
    other = make_engine(database_url)
    try:
        with other.connect() as connection:
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    finally:
        other.dispose()


def counted_pings(engine: Engine) -> list[object]:
    pings: list[object] = []
    ping = engine.dialect.do_ping

    def counting(dbapi_connection):
        pings.append(dbapi_connection)
        return ping(dbapi_connection)

    engine.dialect.do_ping = counting  # type: ignore[method-assign]
    return pings


def test_an_idle_connection_that_the_server_ended_is_replaced_before_a_request_uses_it(
        postgres_engine, database_url, monkeypatch):
    monkeypatch.setattr(edms.db, "PING_AFTER_IDLE_SECONDS", 0.0)  # every connection counts as idle
    first = backend_of(postgres_engine)
    end_backend(database_url, first)

    second = backend_of(postgres_engine)  # no error: the ping found the dead connection and opened another

    assert second != first


def test_a_connection_returned_to_the_pool_moments_ago_is_used_without_a_ping(postgres_engine, monkeypatch):
    monkeypatch.setattr(edms.db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    pings = counted_pings(postgres_engine)
    backend = backend_of(postgres_engine)

    assert [backend_of(postgres_engine) for _ in range(5)] == [backend] * 5
    assert pings == []  # a new connection needs none either: it was just opened
    assert postgres_engine.pool.size() == POOL_SIZE  # one kept per request thread, the job thread and spares


def test_a_connection_that_died_within_that_moment_fails_one_statement_and_the_pool_recovers(
        postgres_engine, database_url, monkeypatch):
    monkeypatch.setattr(edms.db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    first = backend_of(postgres_engine)
    end_backend(database_url, first)

    with pytest.raises(DBAPIError) as failed, postgres_engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert failed.value.connection_invalidated

    assert backend_of(postgres_engine) != first  # the next unit of work gets a new connection
