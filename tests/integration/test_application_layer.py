"""The application layer: one unit of work per request or command, a savepoint per use case, and explicit
wiring (issue #11). Each use case is all or nothing; an audited refusal keeps only its audit record."""
from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select

from edms.application import drafting, signing
from edms.application.services import build_services
from edms.application.unit_of_work import command, complete, use_case
from edms.audit.models import AuditEvent
from edms.crypto.tsa import TimestampError
from edms.documents import models as dm
from edms.notifications.models import Notification
from edms.signatures.ceremony import Credentials
from edms.signatures.errors import CredentialsRefused, SigningFailed
from edms.signatures.models import Signature, SigningCredential
from edms.users.models import User
from tests.conftest import PASSWORD
from tests.integration.signing_fixtures import OOS, context
from tests.support.documents import TITLES, VALUES


def _counts(session) -> dict[str, int]:
    return {name: session.scalar(select(func.count()).select_from(model)) for name, model in (
        ("events", AuditEvent), ("signatures", Signature), ("credentials", SigningCredential),
        ("notifications", Notification), ("documents", dm.Document))}


def _refusing_time_stamps(services) -> None:
    """The TSA is down: a signature fails after its key and certificate were made."""
    authority = services.signing_authority()

    def no_time_stamp(_digest: bytes) -> bytes:
        raise TimestampError("the time-stamping authority does not answer")

    services._opened["authority"] = dataclasses.replace(authority, timestamp=no_time_stamp)


def test_a_use_case_that_fails_midway_leaves_nothing_and_the_unit_of_work_keeps_the_use_cases_before_it(signing_story):
    story, services = signing_story
    _refusing_time_stamps(services)
    with command(services.sessions) as session:
        before = _counts(session)
        author = session.get(User, story.author.id)
        drafting.create_document(services, session, context(author), author, OOS, title=TITLES[OOS],
                                 raw_values=dict(VALUES[OOS]))
        document = session.get(dm.Document, story.document_id)
        with pytest.raises(SigningFailed):
            signing.sign(services, session, context(author), author, document, document.latest,
                         Credentials(password=PASSWORD, username=author.username))
    with services.sessions() as session:
        after = _counts(session)
    assert after["documents"] == before["documents"] + 1  # the use case before the failure stands
    # Of the failed signature nothing is left: no key or certificate, no signature, no event, no notice.
    assert after["credentials"] == before["credentials"]
    assert after["signatures"] == before["signatures"]
    assert after["notifications"] == before["notifications"]
    assert after["events"] == before["events"] + 1  # the new document's own event only


def test_a_refused_signature_keeps_its_audit_event_and_failure_count_while_nothing_else_is_written(signing_story):
    story, services = signing_story
    with services.sessions() as session:
        before = _counts(session)
        author = session.get(User, story.author.id)
        document = session.get(dm.Document, story.document_id)
        with pytest.raises(CredentialsRefused):
            signing.sign(services, session, context(author), author, document, document.latest,
                         Credentials(password="not-the-password", username=author.username))
        complete(session)
    with services.sessions() as session:
        after = _counts(session)
        new_events = session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)
                                     .offset(before["events"])).all()
        assert session.get(User, story.author.id).failed_logins == 1
    assert "signature.refused" in new_events
    assert after == {**before, "events": before["events"] + len(new_events)}


def test_a_savepoint_rolls_back_only_its_own_use_case(signing_story):
    story, services = signing_story
    with services.sessions() as session:
        before = _counts(session)
        author = session.get(User, story.author.id)
        with pytest.raises(RuntimeError), use_case(session):
            drafting.create_document(services, session, context(author), author, OOS, title=TITLES[OOS],
                                     raw_values=dict(VALUES[OOS]))
            raise RuntimeError("the rest of the use case failed")
        assert _counts(session) == before
        complete(session)


def test_signing_notifies_the_next_signers_through_the_one_use_case(signing_story):
    story, services = signing_story
    with command(services.sessions) as session:
        author = session.get(User, story.author.id)
        document = session.get(dm.Document, story.document_id)
        signing.sign(services, session, context(author), author, document, document.latest,
                     Credentials(password=PASSWORD, username=author.username))
    with services.sessions() as session:
        kinds = [n.kind for n in session.scalars(select(Notification).where(Notification.document_id == story.document_id))]
    assert "task" in kinds


def test_renditions_show_verified_signatures_from_services_built_without_any_flask_app(signing_story, settings):
    """No hidden wiring: what a rendition needs comes from the `Services` object, however it was built."""
    from edms.application.renditions import rendition

    story, _app_services = signing_story
    story.sign(story.author)
    services = build_services(settings)
    try:
        with services.sessions() as session:
            document = session.get(dm.Document, story.document_id)
            made = rendition(services, session, document, document.latest, language="en", display_tz="UTC")
    finally:
        services.engine.dispose()
    assert [item.status for item in made.signatures] == ["valid"]


def test_an_api_rendition_shows_its_signatures_verified_with_no_blueprint_hook_anywhere(signing_story, client):
    """The API's renditions verify signatures because the use case passes the trust in, not because the web
    blueprint happened to bind settings to the engine (there is no such hook left)."""
    import io

    from docx import Document as DocxDocument

    from tests.conftest import bearer

    story, _services = signing_story
    story.sign(story.author)
    response = client.get(f"/api/v1/documents/{story.document_id}/versions/1/rendition.docx",
                          headers=bearer(client, story.reviewer.username))
    assert response.status_code == 200
    cells = [cell.text for table in DocxDocument(io.BytesIO(response.data)).tables
             for row in table.rows for cell in row.cells]
    assert "valid" in cells


def test_no_process_global_signer_authority_crl_or_presentation_binding_is_left():
    import edms.pki.store
    import edms.signatures.keys
    import edms.signatures.presentation

    assert not hasattr(edms.signatures.presentation, "bind")
    assert not hasattr(edms.pki.store, "_signers")
    assert not hasattr(edms.signatures.keys, "_authorities") and not hasattr(edms.signatures.keys, "_crls")


@pytest.fixture
def signing_story(app, signing):
    return signing, app.extensions["edms"]
