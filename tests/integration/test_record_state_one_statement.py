"""A document's page reads its record's stored state and the revocation records verification judges it by in ONE
statement (edms.signatures.record_state over edms.row_sets: a UNION ALL of tagged rows), instead of three
statements for the record and one for the revocations (issue #15, "reads": fewer round trips a page). What it
reads is what the ORM and edms.signatures.keys.revocations read, on good and tampered rows, and its digest
still moves with every value it covers (tests/integration/test_record_page_cache.py proves the pages)."""
from __future__ import annotations

from sqlalchemy import event

from edms.documents import models as dm
from edms.signatures.keys import revocations
from edms.signatures.record_state import record_state
from tests.conftest import sign_in
from tests.integration.test_record_page_cache import QA_USER, _page, revise
from tests.integration.test_verdict_parity import find_target, flip_cms_bit, revoke_before_timestamp

MISSING = 999_999


def _reference(session, document_id: int):
    """What the page decides by, read through the ORM, and the revocation records by their own statement."""
    document = session.get(dm.Document, document_id)
    return ((document.id, document.number, document.type_key, document.status, document.owner_id, document.case_id),
            [(v.id, v.version, v.status, v.frozen_at) for v in document.versions], revocations(session))


def _read(session, document_id: int):
    state = record_state(session, document_id)
    assert state is not None
    return ((state.id, state.number, state.type_key, state.status, state.owner_id, state.case_id),
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


def test_the_document_page_reads_its_record_and_the_revocations_in_one_statement(app, signed_case):
    engine = app.extensions["edms"].engine
    document_id = signed_case.documents[0]
    client = app.test_client()
    assert sign_in(client, QA_USER).status_code == 302
    _page(client, f"/documents/{document_id}")  # the kept parts and page made
    seen: list[str] = []

    def on_execute(_connection, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        _page(client, f"/documents/{document_id}")
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    reading = [sql for sql in seen if "signing_credentials" in sql or "attachments" in sql
               or "document_versions" in sql]
    assert len(reading) == 1, reading
    assert all(table in reading[0] for table in ("signing_credentials", "attachments", "document_versions"))
