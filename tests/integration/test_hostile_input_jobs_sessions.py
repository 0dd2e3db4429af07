"""What a fuzzer or a curious user sends to the pages and API routes of the last round (Active sessions, Jobs and
their "Run now" and "Retry", keyset pages' `cursor`, the deadline board, signed PDFs) gets a clear 4xx, never a
500, and changes nothing; a refused credential is audited as everywhere else (EU Annex 11 §5 built-in checks,
21 CFR 11.10(a), (d), (h))."""
from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from edms.application.job_kinds import ESCALATE, EXPORT
from edms.application.unit_of_work import command
from edms.audit import AuditContext
from edms.audit.models import AuditEvent
from edms.inspection.package import CASE
from edms.jobs import operations
from edms.jobs.models import Job
from edms.timeutil import utc_now
from edms.users.models import WebSession
from tests.conftest import bearer, csrf_token, sign_in

HUGE = (2**63, 2**64, 10**30)
# A path id the integer converter does not take at all (-1), or takes but no row can have (the rest).
PATH_IDS = ("-1", *(str(n) for n in HUGE))
ADMIN = ("daisuke.kato", "Daisuke Kato")
QA_PERSON = ("akiko.tanaka", "Akiko Tanaka")
INSPECTOR = ("sofia.lindqvist", "Sofia Lindqvist (PMDA)")
RECORDED_READS = ("audit.verified", "access.refused")  # a 403 is audited (edms.web.refusals), nothing else

JOB_PAGES = ("/jobs/{id}", "/jobs/{id}/status", "/jobs/{id}/download")
JOB_API = ("/api/v1/jobs/{id}", "/api/v1/jobs/{id}/result")
WRITES = (("/jobs/{id}/retry", "page"), ("/admin/sessions/{id}/end", "page"),
          ("/api/v1/jobs/{id}/retry", "api"), ("/api/v1/sessions/{id}/end", "api"))
SIGNED_PDF = ("/documents/{id}/versions/{n}/signed-pdf", "/documents/{id}/versions/{n}/signed.pdf",
              "/api/v1/documents/{id}/versions/{n}/signed-pdf", "/api/v1/documents/{id}/versions/{n}/signed.pdf")
PAGED = ("/jobs/", "/cases/deadlines", "/notifications/", "/admin/users", "/cases/", "/documents/", "/tasks/",
         "/admin/stuck-records/", "/api/v1/cases", "/api/v1/users", "/api/v1/notifications", "/api/v1/sites",
         "/api/v1/tasks", "/api/v1/stuck-records")
ADMINISTRATORS_LISTS = ("/admin/users", "/jobs/", "/admin/stuck-records/", "/api/v1/users", "/api/v1/stuck-records")


def form(**fields: str) -> dict:
    """A form body as a browser would send it, lone surrogates as the raw bytes a fuzzer sends (%ED%A0%80)."""
    body = "&".join(f"{quote(name)}={quote(value.encode('utf-8', 'surrogatepass'))}" for name, value in fields.items())
    return {"data": body.encode(), "content_type": "application/x-www-form-urlencoded"}


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


HOSTILE_CURSORS = {
    "NUL": "\x00", "control": "abc\x1b[2J", "overlong": "A" * 100_000,
    "not base64": "!!!", "integer beyond 2^63": _cursor([2**63]), "integer beyond 2^64": _cursor([2**64, 2**64]),
    "huge integer": _cursor([10**30]), "float": _cursor([1e308]),
    "deep": base64.urlsafe_b64encode(b"[" * 50_000 + b"]" * 50_000).decode(), "object": _cursor({"id": 1}),
    "string keys": _cursor(["x", "y"]), "null": _cursor([None]), "empty list": _cursor([]),
    "-1": "-1", "0": "0", "huge": "9" * 40, "non-numeric": "next", "id -1": _cursor([-1]), "id 0": _cursor([0]),
    "keys at id 0": _cursor([{"t": "2026-11-18T16:00:00+00:00"}, 0]), "name at id -1": _cursor(["Osaka", -1]),
    "every read ended": "-.-.-",
}
HOSTILE_KINDS = {"NUL": "escalate\x00", "lone surrogate": "\ud800", "control": "\x1b[2J", "overlong": "k" * 100_000,
                 "unknown": "rm -rf", "export": EXPORT}
HOSTILE_REASONS = {"NUL": "done\x00", "control": "Left\x1b[2J", "lone surrogate": "x\ud800", "overlong": "r" * 5000,
                   "only spaces": "   ", "escape sequence": "\x1b]0;pwned\x07"}


@pytest.fixture
def world(app, people):
    """An administrator and a QA person, each signed in on the pages with a token beside; an inspector's failed
    export (another user's job); the QA person's own page session (another user's session)."""
    people.make(ADMIN[0], "admin", printed_name=ADMIN[1])
    qa = people.make(QA_PERSON[0], "qa", printed_name=QA_PERSON[1])
    inspector = people.make(INSPECTOR[0], "inspector", printed_name=INSPECTOR[1])
    admin_client, qa_client = app.test_client(), app.test_client()
    assert sign_in(admin_client, ADMIN[0]).status_code == 302
    assert sign_in(qa_client, QA_PERSON[0]).status_code == 302
    with command(app.extensions["edms"].sessions) as session:
        job = operations.request(session, AuditContext(user_id=inspector.id, user_name=INSPECTOR[1]), EXPORT, {
            "scope": CASE, "id": 987654, "case_id": 987654, "language": "en", "display_tz": "UTC",
            "client_addr": "127.0.0.1", "user_name": INSPECTOR[1]}, requested_by=inspector.id, now=utc_now(),
            max_attempts=1)
        job_id = job.id
        qa_session = session.scalars(select(WebSession.id).where(WebSession.user_id == qa.id)).one()
    return {"admin": admin_client, "qa": qa_client, "admin_headers": bearer(admin_client, ADMIN[0]),
            "qa_headers": bearer(qa_client, QA_PERSON[0]), "job_id": job_id, "qa_session": qa_session,
            "admin_csrf": csrf_token(admin_client.get("/").get_data(as_text=True)),
            "qa_csrf": csrf_token(qa_client.get("/").get_data(as_text=True))}


def snapshot(app) -> tuple:
    """Everything these routes could change: the audit trail (but recorded reads), jobs, page sessions."""
    with app.extensions["edms"].sessions() as session:
        events = session.scalar(select(func.count()).select_from(AuditEvent)
                                .where(AuditEvent.action.not_in(RECORDED_READS)))
        jobs = session.execute(select(Job.id, Job.status, Job.attempts).order_by(Job.id)).all()
        sessions = session.execute(select(WebSession.id, WebSession.ended_at).order_by(WebSession.id)).all()
    return events, jobs, sessions


def refused_accesses(app) -> int:
    """Refused requests of signed-in people (403), audited by design (edms.web.refusals)."""
    with app.extensions["edms"].sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "access.refused"))


def refusals(app) -> list[AuditEvent]:
    with app.extensions["edms"].sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "api.auth_failed")))


# --- ids in the path -----------------------------------------------------------------------------------------


@pytest.mark.req("A11-5")
@pytest.mark.parametrize("number", PATH_IDS)
def test_a_job_or_session_id_negative_or_too_large_for_the_database_is_a_404_and_changes_nothing(
        app, world, number):
    before = snapshot(app)
    for template in JOB_PAGES:
        response = world["admin"].get(template.format(id=number))
        assert response.status_code == 404, (template, number, response.status_code)
    for template in JOB_API:
        response = world["admin"].get(template.format(id=number), headers=world["admin_headers"])
        assert response.status_code == 404, (template, number, response.status_code)
    for template, where in WRITES:
        url = template.format(id=number)
        if where == "api":
            response = world["admin"].post(url, headers=world["admin_headers"], json={"reason": "left the site"})
        else:
            response = world["admin"].post(url, data={"csrf_token": world["admin_csrf"], "reason": "left the site"})
        assert response.status_code == 404, (template, number, response.status_code)
    for template in SIGNED_PDF:
        for document, version in ((number, "1"), ("1", number)):
            url = template.format(id=document, n=version)
            headers = world["admin_headers"] if url.startswith("/api/") else {}
            response = world["admin"].get(url, headers=headers)
            assert response.status_code == 404, (url, response.status_code)
    assert snapshot(app) == before


# --- cursors of keyset pages ---------------------------------------------------------------------------------


@pytest.mark.req("A11-5")
@pytest.mark.parametrize("kind", list(HOSTILE_CURSORS))
def test_a_cursor_that_is_not_one_of_ours_is_a_400_naming_it_on_every_paged_list(app, world, kind):
    before = snapshot(app)
    for url in PAGED:
        client = world["admin"] if url in ADMINISTRATORS_LISTS else world["qa"]
        headers = world["admin_headers"] if url in ADMINISTRATORS_LISTS else world["qa_headers"]
        response = client.get(url, query_string={"cursor": HOSTILE_CURSORS[kind]},
                              headers=headers if url.startswith("/api/") else {})
        assert response.status_code == 400, (url, kind, response.status_code)
        assert "'cursor'" in response.get_data(as_text=True).replace("&#39;", "'"), (url, kind)
        if url.startswith("/api/"):  # the API's error shape
            assert response.json["error"]["code"] == "bad_request", (url, kind)
            assert "'cursor'" in response.json["error"]["message"], (url, kind)
    assert snapshot(app) == before


@pytest.mark.req("A11-5")
def test_the_cursors_the_lists_give_out_still_read_their_next_pages(app, world):
    """The rule that refuses ids below 1 refuses nothing a list gives out (every id is 1 or more)."""
    for _ in range(3):
        queued = world["admin"].post("/jobs/run", data={"csrf_token": world["admin_csrf"], "kind": ESCALATE})
        assert queued.status_code == 302
    page = world["admin"].get("/jobs/", query_string={"limit": 1})
    link = re.search(r'href="(/jobs/\?[^"]*cursor=[^"]+)"', page.get_data(as_text=True))
    assert link, "the first page links to the next"
    assert world["admin"].get(link.group(1).replace("&amp;", "&")).status_code == 200


@pytest.mark.req("A11-5")
@pytest.mark.parametrize("url", ["/jobs/?cursor=%ED%A0%80", "/cases/deadlines?cursor=%ED%A0%80",
                                 "/api/v1/cases?cursor=%ED%A0%80", "/tasks/?cursor=%ED%A0%80",
                                 "/api/v1/tasks?cursor=%ED%A0%80", "/documents/?cursor=%ED%A0%80",
                                 "/jobs/?cursor=%00", "/jobs/?cursor=%FF%FE",
                                 "/api/v1/cases?limit=%ED%A0%80", "/api/v1/cases?after=%00"])
def test_a_query_string_with_a_lone_surrogate_or_nul_as_raw_bytes_is_a_400(app, world, url):
    before = snapshot(app)
    client = world["admin"] if url.startswith("/jobs/") else world["qa"]
    response = client.get(url, headers=world["qa_headers"] if url.startswith("/api/") else {})
    assert response.status_code == 400, (url, response.status_code)
    assert snapshot(app) == before


# --- "Run now" -----------------------------------------------------------------------------------------------


@pytest.mark.req("A11-5")
@pytest.mark.parametrize("kind", list(HOSTILE_KINDS))
def test_run_now_with_a_kind_that_is_no_periodic_job_is_a_400_and_queues_nothing(app, world, kind):
    before = snapshot(app)
    page = world["admin"].post("/jobs/run", **form(kind=HOSTILE_KINDS[kind], csrf_token=world["admin_csrf"]))
    assert page.status_code == 400, (kind, page.status_code)
    api = world["admin"].post("/api/v1/jobs", headers=world["admin_headers"], json={"kind": HOSTILE_KINDS[kind]})
    assert api.status_code == 400 and "kind" in api.json["error"]["message"], (kind, api.json)
    assert snapshot(app) == before


@pytest.mark.req("A11-5")
@pytest.mark.parametrize("kind", [2**64, -1, 10**30, None, [ESCALATE], {"kind": ESCALATE}, True, 1.5])
def test_run_now_over_the_api_with_a_kind_that_is_not_text_is_a_400(app, world, kind):
    before = snapshot(app)
    response = world["admin"].post("/api/v1/jobs", headers=world["admin_headers"], json={"kind": kind})
    assert response.status_code == 400, (kind, response.status_code)
    assert snapshot(app) == before


BODIES = {
    "deep array": (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    "deep object": (b'{"kind": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_000 + b"}", "application/json"),
    "not JSON": (b"kind=escalate", "application/json"),
    "a list": (b'["escalate"]', "application/json"),
    "form encoded": (b"kind=escalate&reason=left", "application/x-www-form-urlencoded"),
    "plain text": (b'{"kind": "escalate", "reason": "left"}', "text/plain"),
    "no content type": (b'{"kind": "escalate", "reason": "left"}', None),
    "invalid UTF-8": (b'{"kind": "escalate\xff", "reason": "left\xed\xa0\x80"}', "application/json"),
    "lone surrogate escaped": (b'{"kind": "\\ud800", "reason": "x\\ud800"}', "application/json"),
    "NaN": (b'{"kind": NaN, "reason": NaN}', "application/json"),
}


@pytest.mark.req("A11-5")
@pytest.mark.parametrize("kind", list(BODIES))
def test_a_hostile_or_mistyped_body_to_run_now_retry_or_end_a_session_is_a_4xx_and_changes_nothing(
        app, world, kind):
    body, content_type = BODIES[kind]
    before = snapshot(app)
    for url in ("/api/v1/jobs", f"/api/v1/jobs/{world['job_id']}/retry",
                f"/api/v1/sessions/{world['qa_session']}/end"):
        response = world["admin"].post(url, data=body, content_type=content_type, headers=world["admin_headers"])
        assert 400 <= response.status_code < 500, (url, kind, response.status_code)
        if url != f"/api/v1/jobs/{world['job_id']}/retry":  # retry reads no body: a 409 for a job not failed
            assert response.status_code in (400, 415), (url, kind, response.status_code)
    assert snapshot(app) == before


# --- ending a session ----------------------------------------------------------------------------------------


@pytest.mark.req("A11-5")
@pytest.mark.parametrize("kind", list(HOSTILE_REASONS))
def test_ending_a_session_with_a_reason_holding_control_characters_or_too_long_is_refused(app, world, kind):
    before = snapshot(app)
    reason = HOSTILE_REASONS[kind]
    api = world["admin"].post(f"/api/v1/sessions/{world['qa_session']}/end", headers=world["admin_headers"],
                              json={"reason": reason})
    assert api.status_code == 400, (kind, api.status_code, api.json)
    assert api.json["error"]["message"]
    page = world["admin"].post(f"/admin/sessions/{world['qa_session']}/end",
                               **form(csrf_token=world["admin_csrf"], reason=reason))
    assert 400 <= page.status_code < 500 or page.status_code == 302, (kind, page.status_code)
    assert snapshot(app) == before
    assert world["qa"].get("/").status_code == 200  # still signed in


# --- another user's job or session, a token without the role, no CSRF token -----------------------------------


@pytest.mark.req("11.10(d)")
def test_another_users_job_is_a_403_on_its_page_and_over_the_api_and_cannot_be_retried(app, world):
    from tests.support.inspection import run_jobs

    assert run_jobs(app) == [world["job_id"]]  # the inspector's export fails (no such case)
    before, refused = snapshot(app), refused_accesses(app)
    job = world["job_id"]
    for url in (f"/jobs/{job}", f"/jobs/{job}/status", f"/jobs/{job}/download"):
        assert world["qa"].get(url).status_code == 403, url
    for url in (f"/api/v1/jobs/{job}", f"/api/v1/jobs/{job}/result"):
        assert world["qa"].get(url, headers=world["qa_headers"]).status_code == 403, url
    assert world["qa"].post(f"/jobs/{job}/retry", data={"csrf_token": world["qa_csrf"]}).status_code == 403
    assert world["qa"].post(f"/api/v1/jobs/{job}/retry", headers=world["qa_headers"]).status_code == 403
    assert snapshot(app) == before
    assert refused_accesses(app) == refused + 7  # each refusal is in the audit trail


@pytest.mark.req("11.10(d)")
def test_a_token_without_the_administrator_role_is_a_403_on_every_administrators_route_and_changes_nothing(
        app, world):
    from tests.support.inspection import run_jobs

    run_jobs(app)
    before, refused = snapshot(app), refused_accesses(app)
    headers = world["qa_headers"]
    assert world["qa"].get("/api/v1/sessions", headers=headers).status_code == 403
    assert world["qa"].post(f"/api/v1/sessions/{world['qa_session']}/end", headers=headers,
                            json={"reason": "mine"}).status_code == 403
    assert world["qa"].post("/api/v1/jobs", headers=headers, json={"kind": ESCALATE}).status_code == 403
    assert world["qa"].post(f"/api/v1/jobs/{world['job_id']}/retry", headers=headers).status_code == 403
    assert world["qa"].get("/admin/sessions").status_code == 403
    assert world["qa"].post(f"/admin/sessions/{world['qa_session']}/end",
                            data={"csrf_token": world["qa_csrf"], "reason": "mine"}).status_code == 403
    assert world["qa"].post("/jobs/run", data={"csrf_token": world["qa_csrf"], "kind": ESCALATE}).status_code == 403
    assert snapshot(app) == before
    assert refused_accesses(app) == refused + 7  # each refusal is in the audit trail


@pytest.mark.req("11.10(h)")
@pytest.mark.parametrize("token", ["", "Bearer ", "Bearer \x00", "Bearer " + "A" * 10_000, "Basic YWRtaW46YWRtaW4="])
def test_a_missing_or_unknown_token_on_the_jobs_and_sessions_api_is_a_401_and_audited(app, world, token):
    before = len(refusals(app))
    headers = {"Authorization": token} if token else {}
    client = app.test_client()
    for method, url in (("GET", "/api/v1/sessions"), ("POST", f"/api/v1/sessions/{world['qa_session']}/end"),
                        ("POST", "/api/v1/jobs"), ("GET", f"/api/v1/jobs/{world['job_id']}"),
                        ("POST", f"/api/v1/jobs/{world['job_id']}/retry")):
        response = client.open(url, method=method, headers=headers, json={"kind": ESCALATE, "reason": "x"})
        assert response.status_code == 401, (url, token[:20], response.status_code)
    assert len(refusals(app)) > before
    assert world["qa"].get("/").status_code == 200


@pytest.mark.req("11.10(d)")
@pytest.mark.parametrize("csrf", [None, "", "forged", "\x00", "\ud800"])
def test_a_page_write_without_a_valid_csrf_token_is_a_400_and_changes_nothing(app, world, csrf):
    from tests.support.inspection import run_jobs

    run_jobs(app)
    before = snapshot(app)
    extra = {} if csrf is None else {"csrf_token": csrf}
    for url, data in (("/jobs/run", {"kind": ESCALATE}), (f"/jobs/{world['job_id']}/retry", {}),
                      (f"/admin/sessions/{world['qa_session']}/end", {"reason": "left the site"})):
        response = world["admin"].post(url, **form(**data, **extra))
        assert response.status_code == 400, (url, csrf, response.status_code)
    assert snapshot(app) == before
