"""Every filter the lists offer is served by an index (issue #15, scale): the statements the pages and the API
actually run for a filtered page (first and next) are explained on the engine itself. On SQLite the plan has
no SCAN of the big tables; on PostgreSQL, with sequential scans priced out, none is needed."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import event

from tests.conftest import bearer, sign_in
from tests.integration.test_keyset_paging import open_cases
from tests.support.plans import Statements, full_scans, plans

FILTERS = [("/api/v1/cases", {"jurisdiction": "EU"}), ("/api/v1/cases", {"lot": "L2026-0001"}),
           ("/api/v1/cases", {"patient_ref": "PT-4801"}), ("/api/v1/cases", {"status": "open"}),
           ("/api/v1/notifications", {})]
PAGES = [("/cases/", {"jurisdiction": "EU"}), ("/cases/", {"lot": "L2026-0001"}),
         ("/documents/", {"type": "regulatory_notification"}), ("/documents/", {"status": "draft"}),
         ("/notifications/", {})]


@pytest.mark.parametrize(("path", "filters"), FILTERS)
def test_each_filter_of_the_api_lists_reads_an_index_on_both_pages(app, client, people, path, filters):
    people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    headers = bearer(client, "akiko.tanaka")
    open_cases(client, headers, 4)
    engine = app.extensions["edms"].engine
    with Statements(engine) as listened:
        first = client.get(path, headers=headers, query_string={**filters, "limit": 1})
        assert first.status_code == 200
        if first.json["next"]:
            assert client.get(path, headers=headers,
                              query_string={**filters, "limit": 1, "cursor": first.json["next"]}).status_code == 200
    assert listened.seen, "the list ran a statement with a LIMIT"
    for plan in plans(engine, listened.seen):
        assert full_scans(engine, plan) == [], plan


@pytest.mark.parametrize(("path", "filters"), PAGES)
def test_each_filter_of_the_list_pages_reads_an_index(app, client, people, path, filters):
    people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    open_cases(client, bearer(client, "akiko.tanaka"), 3)
    sign_in(client, "akiko.tanaka")
    engine = app.extensions["edms"].engine
    with Statements(engine) as listened:
        assert client.get(path, query_string={**filters, "limit": 1}).status_code == 200
    assert listened.seen
    for plan in plans(engine, listened.seen):
        assert full_scans(engine, plan) == [], plan


def test_the_schedule_on_the_administrators_jobs_page_reads_each_kinds_newest_jobs_by_an_index(app, client, people):
    """Each periodic kind's newest job and newest finished job are found on (kind, id), not by walking every job
    newest first: a kind that has not run for a long time cost the whole table at 10⁴ cases."""
    from edms.db import transaction
    from edms.jobs.models import Job
    from edms.timeutil import utc_now

    people.make("daisuke.kato", "admin", printed_name="Daisuke Kato")
    services, now = app.extensions["edms"], utc_now()
    with transaction(services.sessions) as session:
        for _ in range(5):
            session.add(Job(kind="outbox.deliver", parameters={}, requested_by=None, requested_at=now,
                            status="succeeded", attempts=1, max_attempts=3, finished_at=now))
    sign_in(client, "daisuke.kato")
    engine = services.engine
    seen: list = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if re.search(r"\bFROM jobs\b", statement) and re.search(r"\bjobs\.kind = ", statement):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get("/jobs/").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert seen, "the schedule read the newest job of each kind"
    for plan in plans(engine, seen):
        if engine.dialect.name == "sqlite":
            assert "ix_jobs_kind_id" in plan and not re.search(r"\bSCAN jobs\b", plan), plan
        else:
            assert "ix_jobs_kind_id" in plan and "Seq Scan on jobs" not in plan, plan
