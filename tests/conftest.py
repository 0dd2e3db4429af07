"""Fixtures: every database-backed test runs once on SQLite and once on a real PostgreSQL server."""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from edms.audit import AuditContext
from edms.config import Settings, load_settings
from edms.db import make_engine, make_session_factory, transaction
from edms.users.operations import Profile, create_user
from tests.support import databases
from tests.support.postgres import PostgresServer

PASSWORD = "Correct-Horse-2026!"
ENGINES = ("sqlite", "postgresql")


def pytest_addoption(parser):
    parser.addoption("--engines", default=os.environ.get("EDMS_TEST_ENGINES", ",".join(ENGINES)),
                     help="comma-separated database engines to run database tests on")


@pytest.fixture(scope="session")
def postgres_server(request) -> Iterator[PostgresServer]:
    if "postgresql" not in request.config.getoption("--engines"):
        pytest.skip("PostgreSQL not selected (--engines)")
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    return databases.migrated_sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def postgres_template(postgres_server):
    return databases.migrated_postgres_template(postgres_server.url(), postgres_server.url)


@pytest.fixture(params=ENGINES)
def database_url(request, tmp_path) -> Iterator[str]:
    """A freshly migrated database of its own for each test, on each engine."""
    engine_name = request.param
    if engine_name not in request.config.getoption("--engines"):
        pytest.skip(f"{engine_name} not selected (--engines)")
    if engine_name == "sqlite":
        yield databases.sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
        return
    server = request.getfixturevalue("postgres_server")
    template = request.getfixturevalue("postgres_template")
    name, url = databases.postgres_copy(server.url(), template, server.url)
    yield url
    databases.drop_postgres(server.url(), name)


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return load_settings("testing", overrides={"database_url": database_url, "data_dir": str(tmp_path / "data")})


@pytest.fixture
def sessions(settings):
    engine = make_engine(settings.database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def app(settings):
    from edms.app import create_app

    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["edms"].engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@dataclass
class People:
    """Creates real accounts through the same operation the admin page uses."""

    settings: Settings
    sessions: object

    def make(self, username: str, role: str | set[str], *, printed_name: str | None = None,
             must_change_password: bool = False, timezone: str = "Asia/Tokyo", password: str = PASSWORD):
        roles = {role} if isinstance(role, str) else set(role)
        with transaction(self.sessions) as session:
            user = create_user(
                session, AuditContext.system("test setup"), self.settings.password,
                username=username,
                profile=Profile(printed_name=printed_name or username.replace(".", " ").title(), timezone=timezone,
                                email=f"{username}@example.org"),
                roles=roles, password=password, must_change_password=must_change_password,
            )
            return user


@pytest.fixture
def people(app) -> People:
    return People(settings=app.extensions["edms"].settings, sessions=app.extensions["edms"].sessions)


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


def sign_in(client, username: str, password: str = PASSWORD):
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_token(page.get_data(as_text=True))})


def bearer(client, username: str, password: str = PASSWORD) -> dict[str, str]:
    """The Authorization header of a fresh API token for `username`."""
    response = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert response.status_code == 201, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


@pytest.fixture
def admin(people):
    return people.make("daisuke.kato", "admin", printed_name="Daisuke Kato")


@pytest.fixture
def admin_client(client, admin):
    response = sign_in(client, "daisuke.kato")
    assert response.status_code == 302
    return client
