"""A document's page reads its record's stored state, its case's zone and the revocation records verification
judges it by in ONE statement (edms.signatures.record_state over edms.row_sets: a UNION ALL of tagged rows),
instead of three statements for the record, one for the revocations and one for the case scope; a case's page
reads its state and its zone in one, the scope's own statement gone (issue #15, "reads": fewer round trips a
page). What the record's statement reads is what the ORM and edms.signatures.keys.revocations read, on good and
tampered rows, and its digest still moves with every value it covers (tests/integration/test_record_page_cache.py
and test_case_page_cache.py prove the pages; test_case_scope.py that the scope refuses as before)."""
from __future__ import annotations

from sqlalchemy import event

from edms.cases.zones import case_zone
from edms.documents import models as dm
from edms.signatures.keys import revocations
from edms.signatures.record_state import record_state
from edms.timeutil import utc_now
from edms.web import case_views
from tests.conftest import sign_in
from tests.integration.test_record_page_cache import QA_USER, _page, revise
from tests.integration.test_verdict_parity import find_target, flip_cms_bit, revoke_before_timestamp

MISSING = 999_999


def _reference(session, document_id: int):
    """What the page decides by, read through the ORM, and the revocation records by their own statement."""
    document = session.get(dm.Document, document_id)
    return ((document.id, document.number, document.type_key, document.status, document.owner_id, document.case_id,
             case_zone(session, document.case_id)),
            [(v.id, v.version, v.status, v.frozen_at) for v in document.versions], revocations(session))


def _read(session, document_id: int):
    state = record_state(session, document_id)
    assert state is not None
    return ((state.id, state.number, state.type_key, state.status, state.owner_id, state.case_id, state.case_zone),
            [(v.id, v.version, v.status, v.frozen_at) for v in state.versions], list(state.revoked)), state.digest


def test_the_state_read_in_one_statement_is_what_the_orm_and_the_revocation_records_read(app, signed_case):
    services = app.extensions["edms"]
    document_id = signed_case.documents[0]
    target = find_target(services, document_id)
    changes = (lambda: None, lambda: flip_cms_bit(services.settings, target),
               lambda: revoke_before_timestamp(services.settings, target), lambda: revise(app, document_id))
    digests = set()
    for change in changes:  # as signed; a bit flipped; a backdated revocation; a new draft beside frozen versions
        change()
        with services.sessions() as session:
            for each in signed_case.documents:
                read, digest = _read(session, each)
                assert read == _reference(session, each)
                if each == document_id:
                    digests.add(digest)
            assert record_state(session, MISSING) is None
    assert len(digests) == len(changes)  # each change reads as another state
    with services.sessions() as session:
        assert _read(session, document_id)[0][2] != []  # the revocation is among the records read


def _statements_reading(app, client, url: str, tables: tuple[str, ...]) -> list[str]:
    """The statements that name any of `tables` while `url` is served from what the first reading kept."""
    engine = app.extensions["edms"].engine
    _page(client, url)  # the kept parts and page made
    seen: list[str] = []

    def on_execute(_connection, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        _page(client, url)
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    return [sql for sql in seen if any(table in sql for table in tables)]


def test_the_document_page_reads_its_record_its_case_zone_and_the_revocations_in_one_statement(app, signed_case):
    """The case scope takes the record's case and the case's zone from the page's own state (edms.web.scope
    .reads_its_state); the revocation records come with it."""
    client = app.test_client()
    assert sign_in(client, QA_USER).status_code == 302
    tables = ("signing_credentials", "attachments", "document_versions", "sites")
    reading = _statements_reading(app, client, f"/documents/{signed_case.documents[0]}", tables)
    assert len(reading) == 1, reading
    assert all(table in reading[0] for table in tables)


def test_the_case_page_reads_its_state_and_its_zone_in_one_statement(app, signed_case, monkeypatch):
    moment = utc_now()
    monkeypatch.setattr(case_views, "utc_now", lambda: moment)  # one minute and deadline face: one kept page
    client = app.test_client()
    assert sign_in(client, QA_USER).status_code == 302
    tables = ("sites", "case_dates", "document_versions")
    reading = _statements_reading(app, client, f"/cases/{signed_case.case_id}", tables)
    assert len(reading) == 1, reading
    assert all(table in reading[0] for table in tables)
