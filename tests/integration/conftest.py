"""Integration fixtures: the organisation PKI, made once per run and copied into each test's data directory."""
from __future__ import annotations

import shutil

import pytest

from edms.pki import PkiStore
from edms.pki.store import PKI_DIRNAME

TEST_ORGANISATION = "Kansai Regenerative Cell Therapies K.K."


@pytest.fixture(scope="session")
def pki_template(tmp_path_factory):
    # A cheap key-derivation count keeps the run fast; the keys and certificates are real.
    directory = tmp_path_factory.mktemp("pki-template") / PKI_DIRNAME
    PkiStore(directory, "testing-pki-passphrase").create(TEST_ORGANISATION, kdf_iterations=1000)
    return directory


@pytest.fixture
def organisation_pki(settings, pki_template) -> PkiStore:
    """The PKI in this test's data directory, as `edms init` would have left it."""
    store = PkiStore.for_settings(settings)
    shutil.copytree(pki_template, store.directory)
    return store


@pytest.fixture
def signing(app, people, organisation_pki):
    """The OOS signing story (tests/integration/signing_fixtures.py): people ready to sign, a submitted
    OOS notification, the organisation PKI in place."""
    from tests.integration.signing_fixtures import SigningStory

    services = app.extensions["edms"]
    return SigningStory(services.settings, services.sessions, services.document_types, people).cast()
