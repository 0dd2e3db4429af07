"""The inbox, the deadline dashboard and the stuck-records list stay flat as the archive grows (issue #15, scale,
second round): what each case still needs is stored once per change and always equals its checklist computed
now; the dashboard and the stuck records are read a keyset page at a time, every row on exactly one page, and
a cursor that is not one of ours is a 400."""
from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select

from edms.application import accounts, case_deadlines, case_tasks, cases, deadline_board, drafting
from edms.application.integrity import check_integrity
from edms.application.routing_health import stuck_page, stuck_records
from edms.application.tasks import CASE, tasks_for
from edms.application.unit_of_work import command
from edms.cases import models as cm
from edms.cases.facts import CaseFacts
from edms.cases.queries import case_status
from edms.documents import models as dm
from edms.paging import BadCursor
from edms.timeutil import utc_now
from edms.users.models import User
from tests.conftest import bearer, sign_in
from tests.integration.signing_fixtures import context as signing_context
from tests.integration.test_keyset_paging import BAD_CURSORS, walk_api, walk_page
from tests.support.people import acting as context

ADMINISTERED = datetime(2026, 10, 24, 12, tzinfo=UTC)
SITES = (("Charité Berlin", "Europe/Berlin", "eu"), ("Osaka University Hospital", "Asia/Tokyo", "jp_proposed"),
         ("MD Anderson Cancer Center", "America/Chicago", "us"))


@pytest.fixture
def story(app, people):
    people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    people.make("kenji.sato", "regulatory", printed_name="Kenji Sato")
    return app.extensions["edms"]


def _act(services, username: str, action):
    with command(services.sessions) as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        return action(session, user)


def _open(services, number: int, *, administered: datetime | None = None) -> int:
    site, zone, regime = SITES[number % len(SITES)]
    case_id = _act(services, "akiko.tanaka", lambda session, qa: cases.open_case(
        services, session, context(qa), qa, CaseFacts(
            regime_key=regime, product="Autologous anti-CD19 CAR-T", lot=f"E2026-{number:04d}",
            patient_ref=f"PT-{3300 + number}", treating_site=site, site_timezone=zone, physician_id=None,
            oos_detected_at=datetime(2026, 10, 20, 8, tzinfo=UTC))).id)
    if administered is not None:
        _act(services, "akiko.tanaka", lambda session, qa: cases.record_date(
            services, session, context(qa), qa, session.get(cm.Case, case_id), "administration", administered, None))
    return case_id


def _stored_needs_equal_the_checklist(services, case_id: int) -> set[str]:
    """The record types the case is stored as needing, after checking they are what its checklist says now."""
    with services.sessions() as session:
        case = session.get(cm.Case, case_id)
        status = (case_status(session, case, services.document_types, services.regimes)
                  if case.status in case_tasks.ACTIVE else None)
        assert case.deadlines_at is not None, "stored by the change"
        assert case_tasks.stored(session, case_id) == case_tasks.needed(session, case, status)
        assert case_tasks.differences(session, case, status) is None
        return {row.type_key for row in case_tasks.stored(session, case_id)}


def _notification() -> dict[str, object]:
    return {"authority": "ema", "jurisdiction": "EU", "what_notified": "Use of OOS lot E2026-0000 for PT-3300.",
            "notified_at": "2026-10-25T10:00:00+00:00", "reference_number": "EMA-2026-0412"}


@pytest.mark.req("11.10(f)")
def test_what_a_case_still_needs_is_stored_as_its_checklist_says_after_every_kind_of_change(story):
    services = story
    case_id = _open(services, 0)
    opened = _stored_needs_equal_the_checklist(services, case_id)
    assert "regulatory_notification" in opened

    _act(services, "akiko.tanaka", lambda session, qa: cases.record_date(
        services, session, context(qa), qa, session.get(cm.Case, case_id), "administration", ADMINISTERED, None))
    _stored_needs_equal_the_checklist(services, case_id)

    _act(services, "akiko.tanaka", lambda session, qa: cases.answer_question(
        services, session, context(qa), qa, session.get(cm.Case, case_id), "manufacturer_is_not_mah", True, None))
    _stored_needs_equal_the_checklist(services, case_id)

    ema = _act(services, "kenji.sato", lambda session, ra: drafting.create_document(
        services, session, context(ra), ra, "regulatory_notification", title="EMA notification, lot E2026-0000",
        raw_values=_notification(), case_id=case_id).id)
    written = _stored_needs_equal_the_checklist(services, case_id)
    assert "regulatory_notification" not in written  # its draft exists: revising it is the owner's draft task

    _act(services, "kenji.sato", lambda session, ra: drafting.withdraw(
        services, session, context(ra), ra, session.get(dm.Document, ema), "written for the wrong authority"))
    assert "regulatory_notification" in _stored_needs_equal_the_checklist(services, case_id)

    _act(services, "akiko.tanaka", lambda session, qa: cases.change_status(
        services, session, context(qa), qa, session.get(cm.Case, case_id), cm.CANCELLED, "patient withdrew consent"))
    assert _stored_needs_equal_the_checklist(services, case_id) == set()


def _case_tasks_of(services, username: str, **options) -> list[tuple[int, str]]:
    with services.sessions() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        found = tasks_for(session, user, document_types=services.document_types, regimes=services.regimes,
                          now=utc_now(), **options)
        return [(task.case_id, task.type_key) for task in found if task.kind == CASE]


def _computed_case_tasks(services, username: str) -> set[tuple[int, str]]:
    """The reference: every active case's checklist computed now, the records the person's roles write."""
    with services.sessions() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        found = set()
        for case in session.scalars(select(cm.Case).where(cm.Case.status.in_(case_tasks.ACTIVE))):
            status = case_status(session, case, services.document_types, services.regimes)
            found |= {(case.id, n.type_key) for n in case_tasks.needed(session, case, status) if n.role in user.roles}
        return found


def test_the_inbox_lists_the_records_cases_need_from_the_stored_rows_as_the_checklists_give_them(story):
    services = story
    case_ids = [_open(services, number, administered=ADMINISTERED if number % 2 else None) for number in range(5)]
    for username in ("akiko.tanaka", "kenji.sato"):
        listed = _case_tasks_of(services, username)
        assert len(listed) == len(set(listed)) and set(listed) == _computed_case_tasks(services, username)
    mine = {case_id for case_id, _type in _case_tasks_of(services, "kenji.sato")}
    assert len(mine) >= 3
    # The pages read the most pressing cases first: with a bound of two, the two whose stored next deadline
    # comes first (a case without one after every case with one).
    with services.sessions() as session:
        by_urgency = sorted((session.get(cm.Case, case_id) for case_id in mine),
                            key=lambda case: (case.next_due_at is None, case.next_due_at or ADMINISTERED, case.id))
    assert by_urgency[0].next_due_at is not None
    bounded = {case_id for case_id, _type in _case_tasks_of(services, "kenji.sato", case_limit=2)}
    assert bounded == {by_urgency[0].id, by_urgency[1].id}
    assert set(case_ids) >= mine


def test_a_case_stored_before_its_needs_were_kept_is_computed_on_read_and_edms_verify_names_a_wrong_row(story):
    services = story
    case_id = _open(services, 0, administered=ADMINISTERED)
    before = set(_case_tasks_of(services, "kenji.sato"))
    with command(services.sessions) as session:
        session.execute(delete(cm.CaseTask).where(cm.CaseTask.case_id == case_id, cm.CaseTask.role == "regulatory"))
    report = check_integrity(services.engine, only=["case_deadlines"], regimes=services.regimes,
                             document_types=services.document_types)
    assert report.problem_count == 1 and "records the case still needs" in report.problems[0].message
    with command(services.sessions) as session:
        problems = case_deadlines.mismatches(services, session)
        assert len(problems) == 1 and "records it needs missing regulatory_notification (regulatory)" in problems[0]
        session.get(cm.Case, case_id).deadlines_at = None  # as 0022_scale_lists leaves a case stored before it
    assert set(_case_tasks_of(services, "kenji.sato")) == before  # computed on read
    with command(services.sessions) as session:
        assert case_deadlines.mismatches(services, session) == []
        case_deadlines.refresh(services, session, case_id)  # its next change stores both again
    _stored_needs_equal_the_checklist(services, case_id)
    assert set(_case_tasks_of(services, "kenji.sato")) == before


def _board_reference(services) -> list[tuple[int, str]]:
    with services.sessions() as session:
        rows = []
        for case in session.scalars(select(cm.Case).where(cm.Case.status.in_(case_tasks.ACTIVE))):
            status = case_status(session, case, services.document_types, services.regimes)
            rows += [(case.id, d.key) for d in status.deadlines if d.due_at is not None and d.state != "met"]
        return rows


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_the_deadline_dashboard_gives_every_open_deadline_once_across_its_pages(story, limit):
    services = story
    administered = [datetime(2026, 10, 24 - number, 12, tzinfo=UTC) for number in range(3)]
    for number in range(6):
        _open(services, number, administered=administered[number // 2] if number % 2 else None)
    _open(services, 6, administered=administered[0])  # the same stored due time as case 1: ties broken by id
    seen, cursor, pages = [], None, 0
    with services.sessions() as session:
        while True:
            page = deadline_board.board_page(session, types=services.document_types, regimes=services.regimes,
                                             now=utc_now(), cursor=cursor, limit=limit)
            seen += [(row.case.id, row.deadline.key) for row in page.items]
            pages += 1
            cursor = page.next
            if cursor is None:
                break
            assert pages < 50, "the pages never end"
    assert len(seen) == len(set(seen)) and sorted(seen) == sorted(_board_reference(services))
    assert seen, "the administered cases have running deadlines"


def test_the_deadline_dashboard_page_follows_its_next_page_links_and_refuses_a_forged_cursor(story, client):
    services = story
    for number in range(4):
        _open(services, number, administered=ADMINISTERED if number % 2 else None)
    sign_in(client, "akiko.tanaka")
    pages = walk_page(client, "/cases/deadlines?limit=1")
    with_deadlines = {case_id for case_id, _key in _board_reference(services)}
    shown = "".join(pages)
    assert len(pages) >= 2 and with_deadlines
    assert all(case.reference in shown for case in _all_cases(services) if case.id in with_deadlines)
    assert client.get("/cases/deadlines?cursor=not-ours").status_code == 400
    forged = base64.urlsafe_b64encode(b'["x", 1]').decode().rstrip("=")
    assert client.get(f"/cases/deadlines?cursor={forged}").status_code == 400
    with services.sessions() as session, pytest.raises(BadCursor):
        deadline_board.board_page(session, types=services.document_types, regimes=services.regimes, now=utc_now(),
                                  cursor=forged, limit=2)


def _all_cases(services) -> list[cm.Case]:
    with services.sessions() as session:
        found = list(session.scalars(select(cm.Case)))
        session.expunge_all()
        return found


def test_the_stuck_records_are_each_on_exactly_one_page_and_a_forged_cursor_is_a_400(app, client, signing):
    for _number in range(3):
        signing.new_oos(submitted=True)
    services = app.extensions["edms"]
    with command(services.sessions) as session:
        admin = session.get(User, signing.admin.id)
        accounts.deactivate(services, session, signing_context(admin), session.get(User, signing.approver.id),
                            "Left the company")
    with services.sessions() as session:
        everything = [(s.document_id, s.version) for s in stuck_records(services, session, now=utc_now())]
    assert len(everything) >= 3
    headers = bearer(client, "daisuke.kato")
    for limit in (1, 2, 5):
        pages = walk_api(client, headers, "/api/v1/stuck-records", limit=limit)
        listed = [(item["document_id"], item["version"]) for page in pages for item in page]
        assert listed == everything  # oldest first, none twice, none left out
    with services.sessions() as session:
        first = stuck_page(services, session, now=utc_now(), cursor=None, limit=1)
        assert first.next is not None and len(first.items) <= 1
    answer = client.get("/api/v1/stuck-records", headers=headers, query_string={"cursor": "not-ours"})
    assert answer.status_code == 400 and "cursor" in answer.get_data(as_text=True)
    sign_in(client, "daisuke.kato")
    shown = "".join(walk_page(client, "/admin/stuck-records/?limit=1"))
    assert all(signing.document(document_id).number in shown for document_id, _version in everything)
    assert client.get("/admin/stuck-records/?cursor=not-ours").status_code == 400


@pytest.mark.parametrize("kind", BAD_CURSORS)
def test_a_cursor_that_is_not_ours_is_a_400_on_the_new_lists_never_a_server_error(app, client, people, kind):
    people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    people.make("daisuke.kato", "admin", printed_name="Daisuke Kato")
    response = client.get("/api/v1/stuck-records", headers=bearer(client, "daisuke.kato"),
                          query_string={"cursor": BAD_CURSORS[kind]})
    assert response.status_code == 400 and "cursor" in response.get_data(as_text=True)
    sign_in(client, "daisuke.kato")
    assert client.get("/admin/stuck-records/", query_string={"cursor": BAD_CURSORS[kind]}).status_code == 400
    qa_client = app.test_client()
    sign_in(qa_client, "akiko.tanaka")
    assert qa_client.get("/cases/deadlines", query_string={"cursor": BAD_CURSORS[kind]}).status_code == 400


def test_the_inbox_pages_bound_the_versions_to_sign_they_read_and_keep_the_same_tasks_within_it(app, signing):
    for _number in range(2):
        signing.new_oos(submitted=True)
    services = app.extensions["edms"]

    def signatures(**options) -> list[int | None]:
        with services.sessions() as session:
            found = tasks_for(session, session.get(User, signing.author.id), document_types=services.document_types,
                              regimes=services.regimes, now=utc_now(), **options)
            return [task.document_id for task in found if task.kind == "sign"]

    everything = signatures()
    assert len(everything) == 3 and signatures(case_limit=50) == everything
    bounded = signatures(case_limit=2)
    assert len(bounded) == 2 and set(bounded) <= set(everything)


def test_the_jobs_list_gives_every_job_once_across_its_pages_newest_first(app, client, people):
    from edms.db import transaction
    from edms.jobs.models import Job

    qa = people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    services = app.extensions["edms"]
    now = utc_now()
    with transaction(services.sessions) as session:
        for number in range(7):
            session.add(Job(kind="outbox.deliver", parameters={}, requested_by=qa.id if number % 2 else None,
                            requested_at=now, status="succeeded", attempts=1, max_attempts=3, finished_at=now))
    with services.sessions() as session:
        mine = list(session.scalars(select(Job.id).where(Job.requested_by == qa.id).order_by(Job.id.desc())))
    sign_in(client, "akiko.tanaka")
    pages = walk_page(client, "/jobs/?limit=1")
    assert len(pages) == len(mine) == 3
    assert all(f'href="/jobs/{job_id}"' in page for job_id, page in zip(mine, pages, strict=True))
    assert client.get("/jobs/?cursor=not-ours").status_code == 400
