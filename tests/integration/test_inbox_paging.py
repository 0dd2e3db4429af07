"""The inbox a keyset page at a time (issue #15, scale): each page reads the next cases, versions to sign and own
drafts after the positions its cursor holds, so every task the whole inbox holds is on exactly one page, the API
gives `next` and the page a "Next page" link, a cursor that is not one of ours is a 400, and every statement the
inbox and the deadline dashboard run walks an index in the order it reads (no sort of every candidate row)."""
from __future__ import annotations

import base64
import re

import pytest
from sqlalchemy import insert, select, text

from edms.application.tasks import Position, decode_position, encode_position, inbox_page, tasks_for
from edms.db import transaction
from edms.documents import models as dm
from edms.paging import BadCursor
from edms.timeutil import utc_now
from edms.users.models import User
from tests.conftest import bearer, sign_in
from tests.integration.test_keyset_paging import BAD_CURSORS, walk_api, walk_page
from tests.integration.test_scale_lists import ADMINISTERED, _open
from tests.support.plans import Statements, full_scans, plans


def _identity(task) -> tuple:
    return (task.kind, task.document_id, task.version, task.step_name, task.case_id, task.type_key)


def _everything(services, username: str) -> list[tuple]:
    """The reference: the whole inbox read at once, no bound."""
    with services.sessions() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        return sorted(_identity(task) for task in tasks_for(
            session, user, document_types=services.document_types, regimes=services.regimes, now=utc_now()))


def _walk(services, username: str, limit: int) -> list[list[tuple]]:
    pages, cursor = [], None
    with services.sessions() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        while True:
            page = inbox_page(session, user, document_types=services.document_types, regimes=services.regimes,
                              now=utc_now(), cursor=cursor, limit=limit)
            pages.append([_identity(task) for task in page.items])
            cursor = page.next
            if cursor is None:
                return pages
            assert len(pages) < 100, "the pages never end"


@pytest.fixture
def busy(app, signing):
    """An author with versions in review to sign and drafts of their own; a QA user whose roles write records
    that open cases need, some cases with a running deadline (administered), some without."""
    services = app.extensions["edms"]
    for _number in range(3):
        signing.new_oos(submitted=True)
    for _number in range(3):
        signing.new_oos(submitted=False)
    for number in range(5):
        _open(services, number, administered=ADMINISTERED if number % 2 else None)
    return services


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_every_task_of_the_inbox_is_on_exactly_one_of_its_pages(busy, limit):
    for username, kinds in (("kenji.sato", {"sign", "draft"}), ("akiko.tanaka", {"case"})):
        everything = _everything(busy, username)
        assert kinds <= {kind for kind, *_rest in everything}
        pages = _walk(busy, username, limit)
        listed = [task for page in pages for task in page]
        assert sorted(listed) == everything  # none twice, none left out
        assert len(pages) > 1


def test_the_first_page_of_the_inbox_is_what_the_home_page_and_the_bounded_inbox_show(busy):
    with busy.sessions() as session:
        user = session.scalars(select(User).where(User.username == "kenji.sato")).one()
        bounded = tasks_for(session, user, document_types=busy.document_types, regimes=busy.regimes,
                            now=utc_now(), case_limit=2)
        first = inbox_page(session, user, document_types=busy.document_types, regimes=busy.regimes, now=utc_now(),
                           cursor=None, limit=2)
    assert [_identity(task) for task in first.items] == [_identity(task) for task in bounded]
    assert first.next is not None


def test_the_cases_of_the_inbox_come_by_their_stored_deadline_across_pages(busy):
    """The records to create: the cases with a running deadline first, the most pressing first, then the others."""
    pages = _walk(busy, "akiko.tanaka", 1)
    cases = [case_id for page in pages for _kind, _doc, _version, _step, case_id, _type in page]
    with busy.sessions() as session:
        from edms.cases import models as cm
        stored = {case.id: case.next_due_at for case in session.scalars(select(cm.Case))}
    order = list(dict.fromkeys(cases))
    assert order == sorted(order, key=lambda case_id: (stored[case_id] is None, stored[case_id] or ADMINISTERED,
                                                       case_id))
    assert stored[order[0]] is not None and stored[order[-1]] is None


def test_an_inbox_cursor_says_where_each_read_stands_and_refuses_anything_else():
    moment = ADMINISTERED
    for position in (Position((moment, 3), (moment, 9), (12,)), Position((None, 4), (), (7,)),
                     Position((), (), (5,))):
        assert decode_position(encode_position(position)) == position
    one = base64.urlsafe_b64encode(b"[1]").decode().rstrip("=")
    for forged in ("", "-", "-.-", f"{one}.{one}", f"{one}.{one}.{one}", f"-.-.{one}.-", "x.y.z", "-.-.not-ours",
                   "-." * 300 + "-"):
        with pytest.raises(BadCursor):
            decode_position(forged)


def test_the_inbox_api_and_page_give_every_task_by_next_and_the_next_page_link(busy, client):
    everything = _everything(busy, "kenji.sato")
    headers = bearer(client, "kenji.sato")
    pages = walk_api(client, headers, "/api/v1/tasks", limit=1)
    assert len(pages) > 1
    listed = sorted((item["kind"], item["document_id"], item["version"], item["step_name"], item["case_id"],
                     item["type"]) for page in pages for item in page)
    assert listed == everything
    sign_in(client, "kenji.sato")
    shown = walk_page(client, "/tasks/?limit=1")
    assert len(shown) > 1
    with busy.sessions() as session:
        from edms.documents import models as dm
        numbers = {document_id: session.get(dm.Document, document_id).number
                   for _k, document_id, *_r in everything if document_id is not None}
    assert all(sum(number in page for page in shown) >= 1 for number in numbers.values())
    spec = client.get("/api/v1/openapi.json").get_json()["paths"]["/tasks"]["get"]
    assert "next" in spec["responses"]["200"]["content"]["application/json"]["schema"]["required"]
    assert {parameter["name"] for parameter in spec["parameters"]} >= {"cursor", "limit"}


@pytest.mark.parametrize("kind", [*BAD_CURSORS, "three parts, one not ours"])
def test_a_cursor_that_is_not_ours_is_a_400_on_the_inbox_never_a_server_error(client, people, kind):
    people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    cursor = BAD_CURSORS.get(kind, "-.-.not-ours")
    response = client.get("/api/v1/tasks", headers=bearer(client, "akiko.tanaka"), query_string={"cursor": cursor})
    assert response.status_code == 400 and "cursor" in response.get_data(as_text=True)
    sign_in(client, "akiko.tanaka")
    assert client.get("/tasks/", query_string={"cursor": cursor}).status_code == 400


def _ordered_walks(engine, seen) -> None:
    for plan in plans(engine, seen):
        assert full_scans(engine, plan) == [], plan
        if engine.dialect.name == "sqlite":  # the rows come in the index's order: nothing read whole and sorted
            assert "TEMP B-TREE FOR ORDER BY" not in plan, plan


def test_every_read_of_the_inbox_walks_an_index_in_its_order_on_both_pages(app, busy, client):
    engine = busy.engine
    for username in ("kenji.sato", "akiko.tanaka"):
        headers = bearer(client, username)
        with Statements(engine) as listened:
            first = client.get("/api/v1/tasks", headers=headers, query_string={"limit": 1})
            assert first.status_code == 200 and first.json["next"]
            assert client.get("/api/v1/tasks", headers=headers,
                              query_string={"limit": 1, "cursor": first.json["next"]}).status_code == 200
        assert len(listened.seen) >= 4, "cases, versions to sign and drafts are read with a LIMIT"
        _ordered_walks(engine, listened.seen)


def test_every_page_of_the_deadline_dashboard_walks_an_index_in_its_order(busy, client):
    sign_in(client, "akiko.tanaka")
    engine = busy.engine
    with Statements(engine) as listened:
        first = walk_page(client, "/cases/deadlines?limit=1")
    assert len(first) > 1 and listened.seen
    _ordered_walks(engine, listened.seen)


ARCHIVE = 4000  # records of the inbox's reader besides the fixture's: enough for the planner to see a big table


def _grow_the_archive(services, username: str, records: int) -> None:
    """Years of one author's OOS notifications, inserted in bulk as a migrated archive holds them (one version
    each, one in ten in review), then the statistics a deployment's autovacuum keeps (ANALYZE)."""
    now = utc_now()
    with transaction(services.sessions) as session:
        owner = session.scalars(select(User).where(User.username == username)).one()
        session.execute(insert(dm.Document), [
            {"number": f"OOS-2019-{n:05d}", "type_key": "oos_notification", "title": f"OOS notification {n}",
             "owner_id": owner.id, "status": dm.IN_REVIEW if n % 10 == 0 else dm.DRAFT, "case_id": None,
             "created_at": now, "current_version": 1} for n in range(records)])
        grown = session.execute(select(dm.Document.id, dm.Document.title, dm.Document.status)
                                .where(dm.Document.number.like("OOS-2019-%"))).all()
        session.execute(insert(dm.DocumentVersion), [
            {"document_id": document_id, "version": 1, "status": status, "title": title, "content": "{}",
             "created_by": owner.id, "created_at": now, "updated_at": now, "status_changed_at": now,
             "frozen_at": now if status == dm.IN_REVIEW else None,
             "content_sha256": "0" * 64 if status == dm.IN_REVIEW else None} for document_id, title, status in grown])
    with services.engine.begin() as connection:
        connection.execute(text("ANALYZE"))


def test_the_inbox_walks_the_records_in_order_when_the_reader_has_thousands_of_them(busy, client):
    """The versions to sign and the own drafts are the record the document names as current (current_version), so
    both engines estimate the join right and walk an index for the page's rows: a correlated max(version) made
    PostgreSQL hash every record and version and sort them (about a second at 10⁵ records, on every request)."""
    _grow_the_archive(busy, "kenji.sato", ARCHIVE)
    headers = bearer(client, "kenji.sato")
    engine = busy.engine
    with Statements(engine) as listened:
        first = client.get("/api/v1/tasks", headers=headers, query_string={"limit": 2})
        assert first.status_code == 200 and first.json["next"]
        assert client.get("/api/v1/tasks", headers=headers,
                          query_string={"limit": 2, "cursor": first.json["next"]}).status_code == 200
    records = [(statement, parameters) for statement, parameters in listened.seen
               if "FROM documents JOIN document_versions" in statement]
    assert len(records) == 4, "the versions to sign and the own drafts, on both pages"
    # The plans the planner picks itself: rows in the order read, stopping after the page (a rowid walk is one).
    for plan in plans(engine, records, planners_choice=True):
        assert not re.search(r"\bSort\b|Hash Join|TEMP B-TREE", plan), plan
    kinds = {item["kind"] for item in first.json["items"]}
    assert kinds >= {"sign", "draft"}
