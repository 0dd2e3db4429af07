"""Each case's next deadline is computed once per change and stored (issue #15, scale): after every kind of
change to what the deadlines depend on (the case's dates and corrections, its answers, its records and their
values, a withdrawn record, the case's status), the stored value is the one edms.cases.deadlines computes
from the records, and the lists state it from the stored times."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from edms.application import case_deadlines, cases, drafting
from edms.application.integrity import check_integrity
from edms.application.unit_of_work import command
from edms.cases import models as cm
from edms.cases.deadlines import OVERDUE
from edms.cases.facts import CaseFacts
from edms.documents import models as dm
from edms.timeutil import utc_now
from edms.users.models import User
from tests.conftest import sign_in
from tests.support.people import acting as context

ADMINISTERED = datetime(2026, 10, 24, 12, tzinfo=UTC)


@pytest.fixture
def story(app, people):
    people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    people.make("kenji.sato", "regulatory", printed_name="Kenji Sato")
    return app.extensions["edms"]


def _stored_equals_computed(services, case_id: int) -> cm.Case:
    with services.sessions() as session:
        case = session.get(cm.Case, case_id)
        assert case.deadlines_at is not None, "stored by the change"
        assert case_deadlines.differences(services, session, case, utc_now()) is None
        session.expunge(case)
        return case


def _act(services, username: str, action):
    with command(services.sessions) as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        return action(session, user)


def _notification(authority: str, notified_at: str) -> dict[str, object]:
    return {"authority": authority, "jurisdiction": "EU", "what_notified": "Use of OOS lot E2026-0107 for PT-EU3301.",
            "notified_at": notified_at, "reference_number": "EMA-2026-0412"}


@pytest.mark.req("11.10(f)")
def test_the_stored_next_deadline_equals_the_computed_one_after_every_kind_of_change(story):
    services = story
    case_id = _act(services, "akiko.tanaka", lambda session, qa: cases.open_case(services, session, context(qa), qa, CaseFacts(
        regime_key="eu", product="Autologous anti-CD19 CAR-T", lot="E2026-0107", patient_ref="PT-EU3301",
        treating_site="Charité Berlin", site_timezone="Europe/Berlin", physician_id=None,
        oos_detected_at=datetime(2026, 10, 20, 8, tzinfo=UTC))).id)
    opened = _stored_equals_computed(services, case_id)
    assert opened.next_deadline_key is None  # every clock waits for the administration

    def record(value, reason=None):
        def act(session, qa):
            cases.record_date(services, session, context(qa), qa, session.get(cm.Case, case_id), "administration",
                              value, reason)
        _act(services, "akiko.tanaka", act)

    record(ADMINISTERED)
    administered = _stored_equals_computed(services, case_id)
    assert administered.next_deadline_key is not None and administered.next_due_at > ADMINISTERED

    record(datetime(2026, 10, 25, 9, tzinfo=UTC), "administration postponed by a day")
    corrected = _stored_equals_computed(services, case_id)
    assert corrected.next_due_at > administered.next_due_at

    _act(services, "akiko.tanaka", lambda session, qa: cases.answer_question(
        services, session, context(qa), qa, session.get(cm.Case, case_id), "manufacturer_is_not_mah", True, None))
    _stored_equals_computed(services, case_id)

    ema = _act(services, "kenji.sato", lambda session, ra: drafting.create_document(
        services, session, context(ra), ra, "regulatory_notification", title="EMA notification, lot E2026-0107",
        raw_values=_notification("ema", "2026-10-25T10:00:00+00:00"), case_id=case_id).id)
    notified = _stored_equals_computed(services, case_id)
    assert notified.next_deadline_key != "ema_notified"  # met by the record's notification time

    def save(authority):
        def act(session, ra):
            document = session.get(dm.Document, ema)
            drafting.save_draft(services, session, context(ra), ra, document, title=document.latest.title,
                                raw_values=_notification(authority, "2026-10-25T10:00:00+00:00"))
        return act

    _act(services, "kenji.sato", save("national_competent_authority"))
    _stored_equals_computed(services, case_id)

    _act(services, "kenji.sato", lambda session, ra: drafting.withdraw(
        services, session, context(ra), ra, session.get(dm.Document, ema), "written for the wrong authority"))
    withdrawn = _stored_equals_computed(services, case_id)
    assert withdrawn.next_deadline_key == corrected.next_deadline_key

    _act(services, "akiko.tanaka", lambda session, qa: cases.change_status(
        services, session, context(qa), qa, session.get(cm.Case, case_id), cm.CANCELLED, "patient withdrew consent"))
    cancelled = _stored_equals_computed(services, case_id)
    assert cancelled.next_deadline_key is None and cancelled.next_due_at is None


def test_the_case_list_states_the_stored_deadline_as_the_computed_one_would(story, client):
    services = story
    case_id = _act(services, "akiko.tanaka", lambda session, qa: cases.open_case(services, session, context(qa), qa, CaseFacts(
        regime_key="eu", product="Autologous anti-CD19 CAR-T", lot="E2026-0107", patient_ref="PT-EU3301",
        treating_site="Charité Berlin", site_timezone="Europe/Berlin", physician_id=None,
        oos_detected_at=datetime(2026, 10, 20, 8, tzinfo=UTC))).id)
    _act(services, "akiko.tanaka", lambda session, qa: cases.record_date(
        services, session, context(qa), qa, session.get(cm.Case, case_id), "administration", ADMINISTERED, None))
    now = utc_now()
    with services.sessions() as session:
        case = session.get(cm.Case, case_id)
        stored = case_deadlines.stored_next(services, session, case, now)
        computed = case_deadlines.computed_next(services, session, case, now)
    assert stored is not None and computed is not None
    assert (stored.key, stored.state, stored.due_at, stored.human) == (computed.key, computed.state, computed.due_at,
                                                                       computed.human)
    assert stored.state == OVERDUE  # administered in October 2026: the 48-hour clock has run out
    sign_in(client, "akiko.tanaka")
    page = client.get("/cases/").get_data(as_text=True)
    assert 'class="overdue alert"' in page and stored.deadline.label.en in page


def test_a_case_stored_before_deadlines_were_kept_is_computed_on_read_and_edms_verify_names_a_wrong_value(story):
    services = story
    case_id = _act(services, "akiko.tanaka", lambda session, qa: cases.open_case(services, session, context(qa), qa, CaseFacts(
        regime_key="eu", product="Autologous anti-CD19 CAR-T", lot="E2026-0107", patient_ref="PT-EU3301",
        treating_site="Charité Berlin", site_timezone="Europe/Berlin", physician_id=None,
        oos_detected_at=datetime(2026, 10, 20, 8, tzinfo=UTC))).id)
    _act(services, "akiko.tanaka", lambda session, qa: cases.record_date(
        services, session, context(qa), qa, session.get(cm.Case, case_id), "administration", ADMINISTERED, None))
    with command(services.sessions) as session:
        case = session.get(cm.Case, case_id)
        assert case_deadlines.mismatches(services, session) == []
        case.next_due_at = datetime(2030, 1, 1, tzinfo=UTC)  # as a faulty write would leave it
    report = check_integrity(services.engine, only=["case_deadlines"], regimes=services.regimes,
                             document_types=services.document_types)
    assert report.problem_count == 1 and report.problems[0].key.startswith("CASE-")
    with command(services.sessions) as session:
        problems = case_deadlines.mismatches(services, session)
        assert len(problems) == 1 and "E2026" not in problems[0] and "next deadline" in problems[0]
        case = session.get(cm.Case, case_id)
        case.deadlines_at = None  # as 0020 leaves a case stored before it
        now = utc_now()
        assert case_deadlines.stored_next(services, session, case, now) == case_deadlines.computed_next(
            services, session, case, now)
        assert case_deadlines.mismatches(services, session) == []


def test_edms_verify_compares_every_stored_next_deadline_and_finds_them_equal(story):
    services = story
    _act(services, "akiko.tanaka", lambda session, qa: cases.open_case(services, session, context(qa), qa, CaseFacts(
        regime_key="eu", product="Autologous anti-CD19 CAR-T", lot="E2026-0107", patient_ref="PT-EU3301",
        treating_site="Charité Berlin", site_timezone="Europe/Berlin", physician_id=None,
        oos_detected_at=datetime(2026, 10, 20, 8, tzinfo=UTC))))
    report = check_integrity(services.engine, only=["case_deadlines"], regimes=services.regimes,
                             document_types=services.document_types)
    assert report.problem_count == 0 and report.counts["case"] == 1
    without = check_integrity(services.engine, only=["case_deadlines"])
    assert without.problem_count == 0 and "not compared" in without.warnings[0].message
