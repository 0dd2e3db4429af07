"""Integration fixtures: the OOS signing story (the organisation PKI is in tests/conftest.py)."""
from __future__ import annotations

import pytest


@pytest.fixture
def signing(app, people, organisation_pki):
    """The OOS signing story (tests/integration/signing_fixtures.py): people ready to sign, a submitted
    OOS notification, the organisation PKI in place."""
    from tests.integration.signing_fixtures import SigningStory

    services = app.extensions["edms"]
    return SigningStory(services.settings, services.sessions, services.document_types, people).cast()


@pytest.fixture
def draft(app, client, people):
    """A draft OOS notification with its references in place, and its author's API client: (api, document id)."""
    from tests.support.documents import create_with_references

    api, created, _values = create_with_references(app, client, people, "oos_notification")
    return api, created["id"]
