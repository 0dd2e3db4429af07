"""Lists that grow with the archive are read a page at a time by keyset (issue #15, scale): every row is on
exactly one page, whatever ties the sort key has, and a cursor that is not one of ours is a clear 400,
never a 500 and never another list's rows."""
from __future__ import annotations

import base64
import html
import json
import re
from datetime import UTC, datetime

import pytest

from edms.db import transaction
from edms.notifications.models import Notification
from tests.conftest import bearer, sign_in

SITES = (("Osaka University Hospital", "Asia/Tokyo", "jp_proposed"), ("Charité Berlin", "Europe/Berlin", "eu"),
         ("MD Anderson Cancer Center", "America/Chicago", "us"))


@pytest.fixture
def qa(people):
    return people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")


def open_cases(client, headers, count: int) -> list[str]:
    references = []
    for number in range(count):
        site, zone, regime = SITES[number % len(SITES)]
        response = client.post("/api/v1/cases", headers=headers, json={
            "regime": regime, "product": "Autologous anti-CD19 CAR-T", "lot": f"L2026-{number:04d}",
            "patient_ref": f"PT-{4800 + number}", "treating_site": site, "site_timezone": zone,
            "oos_detected_at": "2026-11-18T16:00:00+00:00"})
        assert response.status_code == 201, response.json
        references.append(response.json["reference"])
    return references


def walk_api(client, headers, path: str, limit: int, **filters: str) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        response = client.get(path, headers=headers,
                              query_string={**filters, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.json
        pages.append(response.json["items"])
        cursor = response.json["next"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "the pages never end"


def walk_page(client, path: str) -> list[str]:
    """Every page of an HTML list, following its "Next page" link; the pages' HTML."""
    pages = []
    while path:
        response = client.get(path)
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        pages.append(text)
        link = re.search(r'<a id="next-page" href="([^"]+)"', text)
        path = html.unescape(link.group(1)) if link else None
        assert len(pages) < 100, "the pages never end"
    return pages


def test_the_case_list_api_gives_every_case_exactly_once_across_its_pages(client, qa):
    headers = bearer(client, "akiko.tanaka")
    opened = open_cases(client, headers, 7)
    pages = walk_api(client, headers, "/api/v1/cases", limit=3)
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [case["reference"] for page in pages for case in page] == opened  # oldest first, none twice
    # `next_after` (a case id) still pages for clients written before the cursor.
    first = client.get("/api/v1/cases", headers=headers, query_string={"limit": 3}).json
    second = client.get("/api/v1/cases", headers=headers, query_string={"limit": 3, "after": first["next_after"]}).json
    assert [c["reference"] for c in second["items"]] == opened[3:6]


def test_a_filtered_case_list_pages_within_its_filter(client, qa):
    headers = bearer(client, "akiko.tanaka")
    opened = open_cases(client, headers, 7)
    pages = walk_api(client, headers, "/api/v1/cases", limit=1, jurisdiction="EU")
    assert [case["reference"] for page in pages for case in page] == opened[1::3]


def test_the_cases_page_shows_every_case_once_by_its_next_page_links(client, qa):
    headers = bearer(client, "akiko.tanaka")
    opened = open_cases(client, headers, 5)
    sign_in(client, "akiko.tanaka")
    pages = walk_page(client, "/cases/?limit=2")
    shown = [ref for page in pages for ref in re.findall(r">(CASE-[^<]+)</a>", page)]
    assert len(pages) == 3
    assert shown == list(reversed(opened))  # newest first, each once


def test_notifications_made_at_the_same_instant_are_each_on_exactly_one_page(app, client, qa, people):
    """Ties in the sort key (created_at) are broken by the id: no notification repeated or lost."""
    same_instant = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with transaction(app.extensions["edms"].sessions) as session:
        for number in range(7):
            session.add(Notification(recipient_id=qa.id, recipient_email=None, subject=f"Signature needed {number}",
                                     body="OOS-2026-0001 waits for your signature.", kind="signature_needed",
                                     created_at=same_instant, status="recorded"))
    headers = bearer(client, "akiko.tanaka")
    pages = walk_api(client, headers, "/api/v1/notifications", limit=2)
    subjects = [item["subject"] for page in pages for item in page]
    assert sorted(subjects) == sorted(f"Signature needed {n}" for n in range(7))
    assert len(subjects) == len(set(subjects)) == 7
    sign_in(client, "akiko.tanaka")
    shown = [s for page in walk_page(client, "/notifications/?limit=3") for s in re.findall(r"Signature needed \d", page)]
    assert sorted(shown) == sorted(subjects) and len(shown) == 7


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


BAD_CURSORS = {
    "not base64": "!!!not-a-cursor!!!",
    "not JSON": base64.urlsafe_b64encode(b"\xff\xfe{").decode(),
    "an object": _cursor({"id": 1}),
    "a string where an id goes": _cursor(["12"]),
    "a boolean": _cursor([True]),
    "too many keys": _cursor([1, 2]),
    "an id no column holds": _cursor([2**70]),
    "far too long": "A" * 5000,
    "a naive time": _cursor([{"t": "2026-12-01T09:00:00"}, 1]),
}


@pytest.mark.parametrize("kind", BAD_CURSORS)
def test_a_cursor_that_is_not_ours_is_a_clear_400_on_the_api(client, qa, kind):
    headers = bearer(client, "akiko.tanaka")
    open_cases(client, headers, 1)
    for path in ("/api/v1/cases", "/api/v1/notifications"):
        response = client.get(path, headers=headers, query_string={"cursor": BAD_CURSORS[kind]})
        assert response.status_code == 400, (path, response.status_code)
        assert "cursor" in response.get_data(as_text=True)


@pytest.mark.parametrize("kind", ["not base64", "an object", "too many keys", "an id no column holds"])
def test_a_cursor_that_is_not_ours_is_a_400_page_never_a_server_error(client, qa, kind):
    sign_in(client, "akiko.tanaka")
    for path in ("/cases/", "/documents/", "/notifications/"):
        response = client.get(path, query_string={"cursor": BAD_CURSORS[kind]})
        assert response.status_code == 400, (path, response.status_code)


def test_a_limit_out_of_range_is_refused_by_name(client, qa):
    headers = bearer(client, "akiko.tanaka")
    for limit in ("0", "201", "ten"):
        response = client.get("/api/v1/cases", headers=headers, query_string={"limit": limit})
        assert response.status_code == 400 and "limit" in response.get_data(as_text=True)


def test_the_access_report_and_the_sites_page_by_name_with_every_one_once(client, admin, qa, people):
    for username in ("yuki.mori", "hana.ito", "ken.abe", "mika.ueda"):
        people.make(username, "author")
    headers = bearer(client, "daisuke.kato")
    open_cases(client, headers=bearer(client, "akiko.tanaka"), count=3)  # three sites
    users = [u["username"] for page in walk_api(client, headers, "/api/v1/users", limit=2) for u in page]
    assert users == sorted(["daisuke.kato", "akiko.tanaka", "yuki.mori", "hana.ito", "ken.abe", "mika.ueda"])
    sites = [s["name"] for page in walk_api(client, headers, "/api/v1/sites", limit=1) for s in page]
    assert sites == sorted(name for name, _zone, _regime in SITES)
    sign_in(client, "daisuke.kato")
    shown = [name for page in walk_page(client, "/admin/users?limit=4") for name in re.findall(
        r"\b(daisuke\.kato|akiko\.tanaka|yuki\.mori|hana\.ito|ken\.abe|mika\.ueda)\b", page)]
    assert sorted(set(shown)) == users


def test_the_outbox_shows_every_notification_once_across_its_pages(app, client, admin, qa):
    same_instant = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with transaction(app.extensions["edms"].sessions) as session:
        for number in range(5):
            session.add(Notification(recipient_id=qa.id, recipient_email=None, subject=f"Record approved {number}",
                                     body="", kind="approved", created_at=same_instant, status="recorded"))
    sign_in(client, "daisuke.kato")
    pages = walk_page(client, "/admin/outbox?limit=2")
    shown = [s for page in pages for s in re.findall(r"Record approved \d", page)]
    assert len(pages) == 3 and sorted(shown) == [f"Record approved {n}" for n in range(5)]
