"""`GET /api/v1/documents/{id}` by a caller whose request needs nothing more of the database (a valid token,
not an inspector, seeing every case: QA, author, regulatory) is its one statement alone, outside any
transaction (edms.db.one_statement: no Session, no BEGIN, no ROLLBACK; on PostgreSQL one round trip). Every
other caller's read goes through the request's unit of work as before: an inspector's read and its access
record stay one transaction (once its token is known to read with a record, without the statement alone first),
a physician's case scope is read in it, a refused token is refused and recorded in it.
The answers are the same: status, body and headers, for every caller and every refusal."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import DBAPIError

import edms.db
from edms.audit.models import AuditEvent
from edms.db import one_statement
from edms.documents.queries import _SUMMARY_WITH_CALLER
from edms.timeutil import utc_now
from edms.users.models import ApiToken
from tests.conftest import bearer
from tests.integration.test_api_reads_parity import _reference, _revise_in_japanese
from tests.integration.test_pool_connections import backend_of, end_backend

QA, AUTHOR, REGULATORY = "emi.nakamura", "kenji.sato", "sayaka.mori"
NAMED_PHYSICIAN, OTHER_PHYSICIAN, INSPECTOR = "haruto.ito", "mei.suzuki", "john.carter"
MISSING = 999_999
# Headers that name the request rather than the answer (none today; kept explicit for the comparison below).
PER_REQUEST: frozenset[str] = frozenset()


@contextmanager
def statements_of(engine) -> Iterator[list[tuple[str, bool]]]:
    """Every statement the database driver runs on `engine`'s connections, in order, as (the SQL's first word,
    whether the connection was inside a database transaction when it ran). Observed below SQLAlchemy: on SQLite
    every statement the library runs (BEGIN and ROLLBACK included); on PostgreSQL every statement sent through a
    cursor (psycopg begins a transaction itself before one unless the connection is in autocommit: the state
    after the statement tells). The pool's connections are opened again, traced."""
    seen: list[tuple[str, bool]] = []

    def on_connect(dbapi_connection, _record) -> None:
        if engine.dialect.name == "sqlite":
            dbapi_connection.set_trace_callback(
                lambda sql: seen.append((sql.split(None, 1)[0].upper(), dbapi_connection.in_transaction)))
        else:
            dbapi_connection.cursor_factory = _traced(seen)

    engine.dispose()
    event.listen(engine, "connect", on_connect)
    try:
        yield seen
    finally:
        event.remove(engine, "connect", on_connect)
        engine.dispose()


def _traced(seen: list[tuple[str, bool]]):
    import psycopg

    class Traced(psycopg.Cursor):
        def execute(self, query, params=None, **kwargs):
            found = super().execute(query, params, **kwargs)
            text = query if isinstance(query, str) else str(query)
            if text.strip(" ;"):  # not the pool's ping of an idle connection
                seen.append((text.split(None, 1)[0].upper(),
                             self.connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE))
            return found

    return Traced


def _inside(seen: list[tuple[str, bool]], *words: str) -> bool:
    """Whether `words` ran in this order (not necessarily one after the other), each inside a transaction."""
    position = 0
    for word, inside in seen:
        if position < len(words) and word == words[position] and inside:
            position += 1
    return position == len(words)


def _answer(response) -> tuple[int, bytes, list[tuple[str, str]]]:
    return response.status_code, response.get_data(), sorted(
        (name, value) for name, value in response.headers.items() if name not in PER_REQUEST)


@pytest.mark.req("11.10(d)")
def test_a_qa_read_is_one_statement_outside_any_transaction_and_answers_what_the_unit_of_work_read_answers(
        app, client, signed_case, people):
    _revise_in_japanese(client, signed_case.documents[0])  # a newer version, in Japanese
    people.make(REGULATORY, {"regulatory", "author"}, printed_name="森 さやか")
    people.make(INSPECTOR, "inspector", printed_name="John Carter")
    engine = app.extensions["edms"].engine
    fast = {name: bearer(client, name) for name in (QA, AUTHOR, REGULATORY)}
    through_unit_of_work = {name: bearer(client, name) for name in (NAMED_PHYSICIAN, INSPECTOR)}
    for document_id in signed_case.documents:
        path = f"/api/v1/documents/{document_id}"
        reference = client.get(path, headers=through_unit_of_work[NAMED_PHYSICIAN])
        assert reference.status_code == 200 and reference.get_data() == _reference(app, document_id)
        for name, auth in fast.items():
            with statements_of(engine) as seen:
                response = client.get(path, headers=auth)
            assert seen == [("SELECT", False)], (name, seen)  # the one statement, no BEGIN, no ROLLBACK
            assert _answer(response) == _answer(reference)
        with statements_of(engine) as seen:
            inspected = client.get(path, headers=through_unit_of_work[INSPECTOR])
        assert _answer(inspected) == _answer(reference)
        # Its token's first read: alone, then again in its unit of work, then its record. Its next reads (the token
        # known to read with a record, edms.web.runtime.writing_reader): in the unit of work at once.
        first = document_id == signed_case.documents[0]
        assert (seen[0] == ("SELECT", False)) == first, seen
        assert _inside(seen[1:] if first else seen, "SELECT", "INSERT")
    with statements_of(engine) as seen:
        missing = client.get(f"/api/v1/documents/{MISSING}", headers=fast[QA])
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    assert seen == [("SELECT", False)]
    assert _answer(missing) == _answer(client.get(f"/api/v1/documents/{MISSING}",
                                                  headers=through_unit_of_work[NAMED_PHYSICIAN]))


@pytest.mark.req("11.10(e)")
def test_an_inspectors_read_without_a_transaction_would_lose_nothing_it_still_reads_in_its_unit_of_work(
        app, client, signed_case, people):
    people.make(INSPECTOR, "inspector", printed_name="John Carter")
    auth = bearer(client, INSPECTOR)
    path = f"/api/v1/documents/{signed_case.documents[0]}"
    engine = app.extensions["edms"].engine
    with statements_of(engine) as seen:
        assert client.get(path, headers=auth).status_code == 200
    # The first statement (alone) named an inspector: the read is made again in the unit of work, and the access
    # record is written in that same transaction after it.
    assert seen[0] == ("SELECT", False)
    assert _inside(seen[1:], "SELECT", "INSERT")
    with app.extensions["edms"].sessions() as session:
        recorded = session.scalars(select(AuditEvent).where(AuditEvent.action == "inspection.viewed")).all()
    assert recorded and recorded[-1].actor_name == "John Carter"


@pytest.mark.req("11.10(d)")
@pytest.mark.parametrize("refusal", ["revoked", "expired", "unknown"])
def test_a_refused_token_is_refused_and_recorded_in_the_unit_of_work_as_before(app, client, signed_case, refusal):
    auth = bearer(client, QA)
    token = auth["Authorization"][7:]
    if refusal != "unknown":
        with app.extensions["edms"].sessions() as session:
            row = session.scalars(select(ApiToken).order_by(ApiToken.id.desc())).first()
            if refusal == "revoked":
                row.revoked_at = utc_now()
            else:
                row.expires_at = utc_now() - timedelta(seconds=1)
            session.commit()
    else:
        token = "x" * 43
    with app.extensions["edms"].sessions() as session:
        before = len(session.scalars(select(AuditEvent)).all())
    with statements_of(app.extensions["edms"].engine) as seen:
        refused = client.get(f"/api/v1/documents/{signed_case.documents[0]}",
                             headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401 and refused.json["error"]["code"] == "unauthorized"
    assert _inside(seen, "INSERT")  # the refusal's record, in the request's unit of work
    with app.extensions["edms"].sessions() as session:
        assert len(session.scalars(select(AuditEvent)).all()) == before + 1


def test_a_physician_outside_the_case_is_answered_404_as_before_after_the_read_in_the_unit_of_work(
        app, client, signed_case):
    path, auth = f"/api/v1/documents/{signed_case.documents[0]}", bearer(client, OTHER_PHYSICIAN)
    with statements_of(app.extensions["edms"].engine) as seen:
        hidden = client.get(path, headers=auth)
    assert hidden.status_code == 404 and hidden.json["error"]["code"] == "not_found"
    assert seen[0] == ("SELECT", False) and _inside(seen[1:], "SELECT")  # read again, its case scope with it
    assert client.get(path, headers=bearer(client, NAMED_PHYSICIAN)).status_code == 200


def test_the_statement_alone_reads_every_column_as_the_unit_of_works_execution_reads_it(app, client, signed_case):
    """The same values and types (aware UTC times, booleans, NULLs, Japanese text) as SQLAlchemy's own execution
    of the same statement, for a token with its caller's rows and for one that names nobody."""
    _revise_in_japanese(client, signed_case.documents[0])
    token = bearer(client, QA)["Authorization"][7:]
    engine = app.extensions["edms"].engine
    for document_id in [*signed_case.documents, MISSING]:
        parameters = {"document_id": document_id, "digest": hashlib.sha256(token.encode()).hexdigest()}
        alone = one_statement(engine, _SUMMARY_WITH_CALLER, parameters)
        with engine.connect() as connection:
            reference = connection.execute(_SUMMARY_WITH_CALLER, parameters).all()
        assert [tuple(row) for row in alone] == [tuple(row) for row in reference] and alone
        assert [row._fields for row in alone] == [tuple(row._fields) for row in reference]
        for row in alone:
            assert row.caller_expires_at.tzinfo is not None and row.caller_active is True
    assert one_statement(engine, _SUMMARY_WITH_CALLER, {"document_id": 1, "digest": "0" * 64}) == []


def test_a_connection_the_server_ended_fails_that_one_read_and_the_pool_recovers(
        app, database_url, signed_case, monkeypatch):
    if database_url.startswith("sqlite"):
        pytest.skip("the server ending a connection concerns PostgreSQL")
    monkeypatch.setattr(edms.db, "PING_AFTER_IDLE_SECONDS", 3600.0)  # no ping: the dead connection is used
    engine = app.extensions["edms"].engine
    first = backend_of(engine)
    end_backend(database_url, first)
    with pytest.raises(DBAPIError) as failed:
        one_statement(engine, _SUMMARY_WITH_CALLER, {"document_id": 1, "digest": "0" * 64})
    assert failed.value.connection_invalidated
    assert backend_of(engine) != first  # the next read gets a new connection
    assert one_statement(engine, _SUMMARY_WITH_CALLER, {"document_id": 1, "digest": "0" * 64}) == []


def test_a_kept_answer_is_never_stale_a_change_behind_edms_back_is_read_at_once(app, client, signed_case):
    """The body of a document's summary is kept per exact rows read (edms.api.document_routes): after a change
    through edms and after a change made in the database behind its back, the next read answers the new state,
    byte for byte what the ORM read makes of it, and the same answer again for the unchanged state."""
    auth = bearer(client, QA)
    document_id = signed_case.documents[0]
    path = f"/api/v1/documents/{document_id}"
    before = client.get(path, headers=auth).get_data()
    assert client.get(path, headers=auth).get_data() == before == _reference(app, document_id)
    _revise_in_japanese(client, document_id)  # through edms: a new version
    revised = client.get(path, headers=auth).get_data()
    assert revised != before and revised == _reference(app, document_id)
    with app.extensions["edms"].engine.begin() as connection:  # behind edms's back: the newest version's title
        connection.execute(text("UPDATE document_versions SET title = :title WHERE document_id = :id AND version = "
                                "(SELECT max(version) FROM document_versions WHERE document_id = :id)"),
                           {"title": "改ざんされた表題", "id": document_id})
    tampered = client.get(path, headers=auth)
    assert tampered.get_data() != revised and tampered.get_data() == _reference(app, document_id)
    assert tampered.json["versions"][-1]["title"] == "改ざんされた表題"


def test_a_read_with_a_query_or_a_body_is_still_checked_for_nul_and_invalid_utf8(client, signed_case):
    """The bounds checks skip only a request with no query and no body type (nothing they could refuse)."""
    auth = bearer(client, QA)
    path = f"/api/v1/documents/{signed_case.documents[0]}"
    assert client.get(path, headers=auth).status_code == 200
    assert client.get(path + "?lang=%00", headers=auth).status_code == 400
    assert client.get(path + "?lang=%ED%A0%80", headers=auth).status_code == 400
    form = client.get(path, headers=auth, data="note=%00", content_type="application/x-www-form-urlencoded")
    assert form.status_code == 400
