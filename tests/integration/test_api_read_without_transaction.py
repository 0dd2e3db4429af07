"""`GET /api/v1/documents/{id}` by a caller whose request needs nothing more of the database (a valid token,
not an inspector, seeing every case: QA, author, regulatory) is its one statement alone, outside any
transaction (edms.db.single_statement_reads: no Session, no BEGIN, no ROLLBACK; on PostgreSQL one round
trip). Every other caller's read goes through the request's unit of work as before: an inspector's read and its
access record stay one transaction, a physician's case scope is read in it, a refused token is refused and
recorded in it. The answers are the same: status, body and headers, for every caller and every refusal."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from edms.audit.models import AuditEvent
from edms.db import ONE_STATEMENT
from edms.timeutil import utc_now
from edms.users.models import ApiToken
from tests.conftest import bearer
from tests.integration.test_api_reads_parity import _reference, _revise_in_japanese

QA, AUTHOR, REGULATORY = "emi.nakamura", "kenji.sato", "sayaka.mori"
NAMED_PHYSICIAN, OTHER_PHYSICIAN, INSPECTOR = "haruto.ito", "mei.suzuki", "john.carter"
MISSING = 999_999
# Headers that name the request rather than the answer (none today; kept explicit for the comparison below).
PER_REQUEST: frozenset[str] = frozenset()


@contextmanager
def statements_of(engine) -> Iterator[list[tuple[str, bool]]]:
    """Every statement sent on `engine` (and the engines derived from it) as (the SQL's first word, whether it was
    sent inside a transaction of the database), and every top-level BEGIN as ("BEGIN", True), in order."""
    seen: list[tuple[str, bool]] = []

    def on_begin(connection) -> None:
        if not connection.get_execution_options().get(ONE_STATEMENT):
            seen.append(("BEGIN", True))

    def on_execute(connection, _cursor, statement, _parameters, _context, _many) -> None:
        seen.append((statement.split(None, 1)[0].upper(), _in_transaction(connection)))

    event.listen(engine, "begin", on_begin)
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(engine, "begin", on_begin)
        event.remove(engine, "before_cursor_execute", on_execute)


def _in_transaction(connection) -> bool:
    """Whether the database connection is inside a transaction before the statement is sent (psycopg begins one
    itself before a statement unless the connection is in autocommit)."""
    driver = connection.connection.driver_connection
    if connection.dialect.name == "sqlite":
        return driver.in_transaction
    return not driver.autocommit


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
        assert ("BEGIN", True) in seen and any(word == "INSERT" for word, _ in seen)  # its access record, with it
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
    begun = seen.index(("BEGIN", True))
    # After the first statement (alone, which named an inspector) every statement is in the one transaction: the
    # read again, then the access record.
    assert all(inside for _word, inside in seen[begun + 1:])
    assert [word for word, _ in seen[begun + 1:]].count("SELECT") >= 1
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
    assert ("BEGIN", True) in seen  # the refusal's record, in the request's unit of work
    with app.extensions["edms"].sessions() as session:
        assert len(session.scalars(select(AuditEvent)).all()) == before + 1


def test_a_physician_outside_the_case_is_answered_404_as_before_after_the_read_in_the_unit_of_work(
        app, client, signed_case):
    path = f"/api/v1/documents/{signed_case.documents[0]}"
    with statements_of(app.extensions["edms"].engine) as seen:
        hidden = client.get(path, headers=bearer(client, OTHER_PHYSICIAN))
    assert hidden.status_code == 404 and hidden.json["error"]["code"] == "not_found"
    assert ("BEGIN", True) in seen
    assert client.get(path, headers=bearer(client, NAMED_PHYSICIAN)).status_code == 200
