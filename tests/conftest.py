"""Fixtures: every database-backed test runs once on SQLite and once on a real PostgreSQL server."""
from __future__ import annotations

import copy
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from edms.config import Settings, load_settings
from edms.db import make_engine, make_session_factory
from edms.pki import FilePkiStore, PkiStore
from edms.pki.store import PKI_DIRNAME
from tests.support import databases
from tests.support.databases import CaseTemplate
from tests.support.people import PASSWORD, People
from tests.support.postgres import PostgresServer
from tests.support.signed_case import SignedCase, build_template

ENGINES = ("sqlite", "postgresql")
TEST_ORGANISATION = "Kansai Regenerative Cell Therapies K.K."


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


@pytest.fixture(scope="session")
def pki_template(tmp_path_factory):
    # A cheap key-derivation count keeps the run fast; the keys and certificates are real.
    directory = tmp_path_factory.mktemp("pki-template") / PKI_DIRNAME
    FilePkiStore(directory, "testing-pki-passphrase").create(TEST_ORGANISATION, kdf_iterations=1000)
    return directory


@pytest.fixture(scope="session")
def signed_case_sqlite(tmp_path_factory, sqlite_template, pki_template) -> CaseTemplate:
    """The signed case, built once per run on SQLite; each test that asks for it gets a copy."""
    directory = tmp_path_factory.mktemp("signed-case-template")
    url = databases.sqlite_copy(sqlite_template, directory)
    case = build_template(_settings(url, directory / "data"), pki_template)
    return CaseTemplate(database=Path(make_url(url).database), data_dir=directory / "data", case=case)


@pytest.fixture(scope="session")
def signed_case_postgresql(tmp_path_factory, postgres_server, postgres_template, pki_template) -> CaseTemplate:
    """The signed case, built once per run on PostgreSQL into a database the tests' copies are made from."""
    directory = tmp_path_factory.mktemp("signed-case-template")
    name, url = databases.postgres_copy(postgres_server.url(), postgres_template, postgres_server.url)
    case = build_template(_settings(url, directory / "data"), pki_template)
    return CaseTemplate(database=name, data_dir=directory / "data", case=case)


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture(params=ENGINES)
def database_url(request, tmp_path, data_dir) -> Iterator[str]:
    """A database of its own for each test, on each engine: a copy of the migrated template or, for a test
    that asks for `signed_case`, of the signed case's template (with its data directory)."""
    engine_name = request.param
    if engine_name not in request.config.getoption("--engines"):
        pytest.skip(f"{engine_name} not selected (--engines)")
    seeded: CaseTemplate | None = None
    if "signed_case" in request.fixturenames:
        seeded = request.getfixturevalue(f"signed_case_{engine_name}")
        shutil.copytree(seeded.data_dir, data_dir)
    if engine_name == "sqlite":
        template = seeded.database if seeded else request.getfixturevalue("sqlite_template")
        yield databases.sqlite_copy(template, tmp_path)
        return
    server = request.getfixturevalue("postgres_server")
    template = seeded.database if seeded else request.getfixturevalue("postgres_template")
    name, url = databases.postgres_copy(server.url(), template, server.url)
    yield url
    databases.drop_postgres(server.url(), name)


def _settings(database_url: str, data_dir: Path) -> Settings:
    return load_settings("testing", overrides={"database_url": database_url, "data_dir": str(data_dir)})


@pytest.fixture
def settings(database_url, data_dir) -> Settings:
    return _settings(database_url, data_dir)


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


@pytest.fixture
def organisation_pki(settings, pki_template) -> PkiStore:
    """The PKI in this test's data directory, as `edms init` would have left it (the signed case's data
    directory already holds the same one)."""
    store = PkiStore.for_settings(settings)
    shutil.copytree(pki_template, store.directory, dirs_exist_ok=True)
    return store


@pytest.fixture
def signed_case(database_url, request) -> SignedCase:
    """The signed case of tests/support/signed_case.py, already in this test's database and data directory:
    `database_url` copied them from the template built once per run."""
    built: CaseTemplate = request.getfixturevalue(f"signed_case_{make_url(database_url).get_backend_name()}")
    return copy.deepcopy(built.case)
