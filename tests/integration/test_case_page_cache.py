"""A case's page keeps the parts that depend only on the case's stored state (edms.application.case_page_state,
edms.web.record_cache) and states its deadlines at each request, and is never stale: after any change to the
case or any of its records, made through edms or behind its back, the page served with the kept parts is exactly
the page rendered with nothing kept (issue #15, "reads": no per-request work that does not depend on the request;
21 CFR 11.10(e), 11.10(f): the checklist, the deadlines and who acts next always read from the records).

Each case reads the page (keeping its parts), makes ONE change, reads it twice more without emptying anything
(the first of them finds the new state's parts missing and keeps them, the second is served from them), then
empties the cache and reads it once more: the three must be identical (CSRF tokens aside) and, where the change
shows on the page, differ from the first reading. The clock is fixed for the page (its deadlines and time line
are stated at each request's moment), so that two readings can be compared whole.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from edms.application import cases, drafting
from edms.application.case_page_state import case_page_state, clock_face
from edms.application.unit_of_work import command
from edms.cases import models as cm
from edms.cases.facts import CaseFacts
from edms.cases.queries import case_status
from edms.documents import models as dm
from edms.signatures.ceremony import SigningEnvironment
from edms.sites.models import Site
from edms.users.models import User, UserRole
from edms.web import case_views
from edms.web.record_cache import EXTENSION, PAGES
from edms.web.shell import EXTENSION as NAVIGATION
from tests.conftest import sign_in
from tests.integration.test_case_picture import build_demo
from tests.integration.test_record_page_cache import (
    AUTHOR,
    REVIEWER,
    _ceremony,
    revise,
    revise_and_submit,
    signed_by_author,
    withdraw,
)
from tests.integration.test_signatures_verification import attacker
from tests.integration.test_verdict_parity import find_target, revoke_before_timestamp
from tests.support.documents import realistic_values, title_for
from tests.support.page_changes import Change, user_column
from tests.support.people import acting
from tests.support.signed_case import SIGNERS, SignedCase
from tests.support.signed_case import _sign_all as sign_all

QA_USER = "emi.nakamura"  # of the signed case (tests/support/signed_case.py)
NOW = datetime(2026, 12, 7, 3, 15, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    """The moment the case page states its deadlines at: fixed, and moved by a test that lets time pass."""
    moment = [NOW]
    monkeypatch.setattr(case_views, "utc_now", lambda: moment[0])
    return moment


def _user(session, username: str) -> User:
    return session.scalars(select(User).where(User.username == username)).one()


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return re.sub(r'(name="csrf_token"[^>]*value=")[^"]+', r"\1-", response.get_data(as_text=True))


def _fresh(app, client, url: str) -> str:
    """The page rendered with nothing kept (neither parts, whole pages nor the shell's navigation): the
    reference."""
    for kept in (EXTENSION, PAGES, NAVIGATION):
        if kept in app.extensions:
            app.extensions[kept].clear()
    return _page(client, url)


def _served_after(app, client, url: str, change: Callable[[], None]) -> tuple[str, str]:
    """The page before `change` and after it, each proved equal to the page rendered afresh."""
    before = _page(client, url)
    assert _page(client, url) == before == _fresh(app, client, url)
    _page(client, url)  # kept again
    change()
    after = _page(client, url)  # nothing emptied: the state read names parts not kept yet
    assert _page(client, url) == after  # now served from the kept parts
    assert after == _fresh(app, client, url)
    return before, after


# --- changes to the records of the signed case ------------------------------------------------------------------

def _signed(app, signed_case, username: str, refuse: bool) -> None:
    _ceremony(app, signed_case.documents[0], username, refuse)


def approve_every_step(app, signed_case) -> None:
    services = app.extensions["edms"]
    env = SigningEnvironment.from_settings(services.settings, blobs=services.blobs)
    sign_all(services, env, signed_case.documents[0], SignedCase(signed_case.case_id))


def new_document(app, signed_case) -> None:
    services = app.extensions["edms"]
    doc_type = services.document_types["informed_consent"]
    with command(services.sessions) as session:
        author = _user(session, SIGNERS[doc_type.steps[0].roles[0]][0][0])
        drafting.create_document(services, session, acting(author), author, doc_type.key, title=title_for(doc_type),
                                 raw_values=realistic_values(doc_type), case_id=signed_case.case_id)


def version_status_behind_edms(app, signed_case) -> None:
    """The latest version of the first record set back to "in review" by the database owner."""
    with attacker(app.extensions["edms"].settings, "document_versions") as connection:
        version_id = connection.scalar(select(dm.DocumentVersion.id).where(
            dm.DocumentVersion.document_id == signed_case.documents[0]).order_by(dm.DocumentVersion.version.desc()))
        connection.execute(update(dm.DocumentVersion).where(dm.DocumentVersion.id == version_id)
                           .values(status=dm.IN_REVIEW))


def physician_changed(app, signed_case) -> None:
    """The administrator names the case's other physician (a reassignment through edms)."""
    services = app.extensions["edms"]
    with command(services.sessions) as session:
        admin, other = _user(session, "takeshi.ogawa"), _user(session, SIGNERS["physician"][1][0])
        case = session.get(cm.Case, signed_case.case_id)
        cases.change_physician(services, session, acting(admin), admin, case, other, "Dr Ito is on leave")


def physician_renamed(app, signed_case) -> None:
    with app.extensions["edms"].engine.begin() as connection:
        connection.execute(update(User).where(User.username == SIGNERS["physician"][0][0])
                           .values(printed_name="Dr Haruto Ito-Kimura"))


def reader_made_admin(app, signed_case) -> None:
    with app.extensions["edms"].engine.begin() as connection:
        reader = connection.scalar(select(User.id).where(User.username == QA_USER))
        connection.execute(insert(UserRole).values(user_id=reader, role="admin", granted_at=NOW))


def certificate_revoked(app, signed_case) -> None:
    services = app.extensions["edms"]
    revoke_before_timestamp(services.settings, find_target(services, signed_case.documents[0]))


def _on_first(action: Callable[..., None]) -> Callable[..., None]:
    return lambda app, signed_case: action(app, signed_case.documents[0])


RECORD_CHANGES = [
    Change("a new document", new_document),
    Change("a new version", _on_first(revise)),
    # A step signed on a new version of a record already approved: the checklist and the flow still show the
    # approved version, so the page reads the same (and is still the page made afresh).
    Change("a new signature", lambda app, case: _signed(app, case, AUTHOR, refuse=False),
           prepare=_on_first(revise_and_submit), shows=False),
    Change("a new version approved by its last signature", approve_every_step, prepare=_on_first(revise_and_submit)),
    Change("a refusal to sign", lambda app, case: _signed(app, case, REVIEWER, refuse=True),
           prepare=_on_first(signed_by_author)),
    Change("a withdrawal", _on_first(withdraw)),
    Change("a version's status changed behind edms's back", version_status_behind_edms),
    Change("the physician's printed name", physician_renamed),
    Change("the case reassigned to another physician", physician_changed),
    # The case page shows no verdict: a revocation leaves it as it was, and it is still the page made afresh.
    Change("the signer's certificate revoked (trust)", certificate_revoked, shows=False),
    Change("the reader's language", user_column(QA_USER, language="ja")),
    # Every time on the case page is in the zone of the case's site: the reader's own zone shows nowhere.
    Change("the reader's time zone", user_column(QA_USER, timezone="America/New_York"), shows=False),
    Change("the reader's printed name", user_column(QA_USER, printed_name="Emi Nakamura-Mori")),
    Change("the reader's roles", reader_made_admin),
]


@pytest.mark.req("11.10(e)")
@pytest.mark.parametrize("change", RECORD_CHANGES, ids=[change.name for change in RECORD_CHANGES])
def test_after_any_change_to_its_records_the_case_page_with_kept_parts_is_the_page_rendered_afresh(
        app, signed_case, clock, change):
    if change.prepare is not None:
        change.prepare(app, signed_case)
    client = app.test_client()
    assert sign_in(client, QA_USER).status_code == 302
    before, after = _served_after(app, client, f"/cases/{signed_case.case_id}", lambda: change.apply(app, signed_case))
    assert (after != before) == change.shows


def test_readers_with_other_roles_never_share_kept_parts(app, signed_case, clock):
    url = f"/cases/{signed_case.case_id}"
    qa, admin, author = app.test_client(), app.test_client(), app.test_client()
    for client, username in ((qa, QA_USER), (admin, "takeshi.ogawa"), (author, SIGNERS["author"][0][0])):
        assert sign_in(client, username).status_code == 302
    pages = {"qa": _page(qa, url), "admin": _page(admin, url), "author": _page(author, url)}
    assert 'id="change-physician-link"' in pages["admin"] and 'id="change-physician-link"' not in pages["qa"]
    assert 'id="attach-existing"' in pages["author"] and 'id="attach-existing"' not in pages["admin"]
    assert len(app.extensions[EXTENSION]) == 3
    assert _page(qa, url) == pages["qa"] == _fresh(app, qa, url)
    assert _page(admin, url) == pages["admin"] == _fresh(app, admin, url)
    assert _page(author, url) == pages["author"] == _fresh(app, author, url)


# --- changes to a case's clocks --------------------------------------------------------------------------------

ADMINISTERED = datetime(2026, 12, 5, 12, tzinfo=UTC)


@pytest.fixture
def eu_case(app, people) -> int:
    """An EU case whose clocks wait for the administration (as in test_case_deadlines_stored)."""
    people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    people.make("kenji.sato", "regulatory", printed_name="Kenji Sato")
    services = app.extensions["edms"]
    with command(services.sessions) as session:
        qa = _user(session, "akiko.tanaka")
        return cases.open_case(services, session, acting(qa), qa, CaseFacts(
            regime_key="eu", product="Autologous anti-CD19 CAR-T", lot="E2026-0107", patient_ref="PT-EU3301",
            treating_site="Charité Berlin", site_timezone="Europe/Berlin", physician_id=None,
            oos_detected_at=datetime(2026, 12, 1, 8, tzinfo=UTC))).id


def _as(app, username: str, action: Callable) -> None:
    services = app.extensions["edms"]
    with command(services.sessions) as session:
        action(services, session, _user(session, username))


def _record_date(value: datetime, reason: str | None = None) -> Callable:
    def change(app, case_id: int) -> None:
        _as(app, "akiko.tanaka", lambda services, session, qa: cases.record_date(
            services, session, acting(qa), qa, session.get(cm.Case, case_id), "administration", value, reason))
    return change


def notification_sent(app, case_id: int) -> None:
    values = {"authority": "ema", "jurisdiction": "EU", "what_notified": "Use of OOS lot E2026-0107 for PT-EU3301.",
              "notified_at": "2026-12-06T10:00:00+00:00", "reference_number": "EMA-2026-0412"}
    _as(app, "kenji.sato", lambda services, session, ra: drafting.create_document(
        services, session, acting(ra), ra, "regulatory_notification", title="EMA notification, lot E2026-0107",
        raw_values=values, case_id=case_id))


def question_answered(app, case_id: int) -> None:
    _as(app, "akiko.tanaka", lambda services, session, qa: cases.answer_question(
        services, session, acting(qa), qa, session.get(cm.Case, case_id), "manufacturer_is_not_mah", True, None))


def status_changed(app, case_id: int) -> None:
    _as(app, "akiko.tanaka", lambda services, session, qa: cases.change_status(
        services, session, acting(qa), qa, session.get(cm.Case, case_id), cm.CANCELLED, "patient withdrew consent"))


def date_behind_edms(app, case_id: int) -> None:
    with attacker(app.extensions["edms"].settings, "case_dates") as connection:
        connection.execute(update(cm.CaseDate).where(cm.CaseDate.case_id == case_id)
                           .values(value=ADMINISTERED - timedelta(days=3)))


def site_zone_behind_edms(app, case_id: int) -> None:
    with app.extensions["edms"].engine.begin() as connection:
        site_id = connection.scalar(select(cm.Case.site_id).where(cm.Case.id == case_id))
        connection.execute(update(Site).where(Site.id == site_id).values(timezone="Europe/Lisbon"))


CLOCK_CHANGES = [
    Change("a clock started (the administration recorded)", _record_date(ADMINISTERED)),
    Change("a deadline moved (the administration corrected with a reason)",
           _record_date(ADMINISTERED + timedelta(hours=20), "administration postponed"),
           prepare=_record_date(ADMINISTERED)),
    Change("a notification sent (the EMA notification recorded)", notification_sent, prepare=_record_date(ADMINISTERED)),
    Change("a question answered", question_answered),
    Change("the case's status", status_changed),
    Change("a date changed behind edms's back", date_behind_edms, prepare=_record_date(ADMINISTERED)),
    Change("the site's zone", site_zone_behind_edms, prepare=_record_date(ADMINISTERED)),
]


@pytest.mark.req("11.10(f)")
@pytest.mark.parametrize("change", CLOCK_CHANGES, ids=[change.name for change in CLOCK_CHANGES])
def test_after_any_change_to_its_clocks_the_case_page_with_kept_parts_is_the_page_rendered_afresh(
        app, eu_case, clock, change):
    if change.prepare is not None:
        change.prepare(app, eu_case)
    client = app.test_client()
    assert sign_in(client, "akiko.tanaka").status_code == 302
    before, after = _served_after(app, client, f"/cases/{eu_case}", lambda: change.apply(app, eu_case))
    assert (after != before) == change.shows


def test_as_time_passes_the_kept_parts_serve_deadlines_stated_at_each_request(app, eu_case, clock):
    _record_date(ADMINISTERED)(app, eu_case)
    client = app.test_client()
    assert sign_in(client, "akiko.tanaka").status_code == 302
    url = f"/cases/{eu_case}"
    early = _page(client, url)
    kept = len(app.extensions[EXTENSION])

    def later() -> None:
        clock[0] = NOW + timedelta(days=3, hours=5)  # past the 48-hour clock: "overdue"
    before, after = _served_after(app, client, url, later)
    assert before == early and after != early and "deadline-overdue" in after
    assert len(app.extensions[EXTENSION]) == kept  # the same state: the same parts, only the clock moved


def test_the_deadlines_stated_from_the_page_state_are_those_of_the_case_status_for_every_demo_case(
        app, organisation_pki):
    """The deadlines and what forbids administration, stated per request from the Core state, equal those
    edms.cases.queries.case_status computes from the ORM objects, now and as the clocks run."""
    build_demo(app)
    services = app.extensions["edms"]
    with services.sessions() as session:
        case_ids = list(session.scalars(select(cm.Case.id).order_by(cm.Case.id)))
        assert len(case_ids) >= 5
        for case_id in case_ids:
            state = case_page_state(session, case_id)
            case = session.get(cm.Case, case_id)
            assert state is not None and state.site_zone == case.site_timezone
            for moment in (NOW, NOW + timedelta(days=2), NOW + timedelta(days=40), NOW - timedelta(days=30)):
                status = case_status(session, case, services.document_types, services.regimes, moment)
                deadlines, blockers = state.deadlines(services.document_types, services.regimes[case.regime_key],
                                                      moment)
                assert deadlines == status.deadlines and blockers == status.administration_blockers


def test_a_case_that_does_not_exist_is_not_found(app, client, people):
    people.make("akiko.tanaka", "qa")
    assert sign_in(client, "akiko.tanaka").status_code == 302
    assert client.get("/cases/999999").status_code == 404


# --- the whole page kept: per reader, per minute and per what its deadlines read ---------------------------------

def _token(text: str) -> list[str]:
    return re.findall(r'name="csrf_token"[^>]*value="([^"]+)"', text)


def test_a_kept_case_page_is_served_without_rendering_with_each_sessions_own_csrf_token(
        app, signed_case, clock, monkeypatch):
    url = f"/cases/{signed_case.case_id}"
    first, second = app.test_client(), app.test_client()
    assert sign_in(first, QA_USER).status_code == 302 and sign_in(second, QA_USER).status_code == 302
    page = first.get(url).get_data(as_text=True)
    assert len(app.extensions[PAGES]) == 1

    def no_rendering(*_args, **_kwargs):
        raise AssertionError("a kept page was rendered again")
    rendering = case_views.render_template
    monkeypatch.setattr(case_views, "render_template", no_rendering)
    again = second.get(url).get_data(as_text=True)  # another session of the same reader, the same minute
    monkeypatch.setattr(case_views, "render_template", rendering)
    assert len(app.extensions[PAGES]) == 1
    assert _token(page)[0] != _token(again)[0]  # each session's own token ...
    for client, text in ((first, page), (second, again)):
        tokens = _token(text)
        assert len(set(tokens)) == 1 and len(tokens) >= 4  # ... in every form of the page, and accepted
        assert client.post("/language", data={"csrf_token": tokens[0], "language": "en"}).status_code == 302
    # Byte for byte the page a fresh rendering prints for the same state, reader and moment (tokens aside).
    assert again.replace(_token(again)[0], "-") == page.replace(_token(page)[0], "-")
    assert _page(second, url) == _fresh(app, second, url)


def test_other_readers_of_the_same_roles_get_their_own_case_page(app, signed_case, clock):
    url = f"/cases/{signed_case.case_id}"
    emi, hiroshi = app.test_client(), app.test_client()
    assert sign_in(emi, QA_USER).status_code == 302 and sign_in(hiroshi, SIGNERS["qa"][1][0]).status_code == 302
    pages = _page(emi, url), _page(hiroshi, url)
    who = re.compile(r'<span class="who">([^<]*)</span>')
    assert [who.findall(page) for page in pages] == [["Emi Nakamura (emi.nakamura)"],
                                                      ["Hiroshi Yamada (hiroshi.yamada)"]]
    assert len(app.extensions[PAGES]) == 2 and len(app.extensions[EXTENSION]) == 1  # the parts are shared
    assert _page(hiroshi, url) == pages[1] == _fresh(app, hiroshi, url)


def test_a_kept_case_page_is_the_page_of_its_minute_and_a_deadline_crossed_within_it_gives_a_new_page(
        app, eu_case, clock):
    """Kept pages change with the minute (the time line is drawn at the minute it shows) and, within a minute,
    whenever a deadline's state or remaining time reads differently."""
    administered = ADMINISTERED + timedelta(seconds=30)  # a clock started at half past: due at half past too
    _record_date(administered)(app, eu_case)
    services = app.extensions["edms"]
    with services.sessions() as session:
        state = case_page_state(session, eu_case)
        assert state is not None
        deadlines, _blockers = state.deadlines(services.document_types, services.regimes["eu"], NOW)
    due = next(d.due_at for d in deadlines if d.due_at is not None and d.due_at.second == 30
               and d.deadline.direction == "not_after")
    client = app.test_client()
    assert sign_in(client, "akiko.tanaka").status_code == 302
    url = f"/cases/{eu_case}"

    def at(moment: datetime) -> tuple[str, int]:
        clock[0] = moment
        return _page(client, url), len(app.extensions[PAGES])

    minute = due.replace(second=0)
    early, kept = at(minute + timedelta(seconds=5))
    assert "less than 1 min" in early and early == at(minute + timedelta(seconds=25))[0]  # 5 s before it falls due
    assert len(app.extensions[PAGES]) == kept  # the same minute, the same deadlines read: the kept page
    crossed, count = at(minute + timedelta(seconds=35))  # the same minute, 5 s past the due time
    assert crossed != early and "overdue by less than 1 min" in crossed and count == kept + 1
    assert crossed == _fresh(app, client, url)
    assert at(minute + timedelta(seconds=55))[0] == crossed  # still the same face: served as kept
    clock[0] = minute + timedelta(minutes=1, seconds=5)
    next_minute = _page(client, url)
    assert next_minute != crossed and next_minute == _fresh(app, client, url)


def test_the_clock_face_ignores_only_the_exact_time_left(app, eu_case):
    """Two moments of one minute whose deadlines read alike share a face; a deadline crossed does not."""
    _record_date(ADMINISTERED)(app, eu_case)
    services = app.extensions["edms"]
    with services.sessions() as session:
        state = case_page_state(session, eu_case)
    assert state is not None
    regime = services.regimes["eu"]

    def face(moment: datetime):
        return clock_face(*state.deadlines(services.document_types, regime, moment))
    due = next(d.due_at for d in state.deadlines(services.document_types, regime, NOW)[0]
               if d.due_at is not None and d.deadline.direction == "not_after")
    assert face(due - timedelta(seconds=50)) == face(due - timedelta(seconds=10))
    assert face(due - timedelta(seconds=10)) != face(due + timedelta(seconds=10))
    assert face(NOW) != face(NOW + timedelta(minutes=1))  # "in 2 days 8 h 44 min" then "... 43 min"
