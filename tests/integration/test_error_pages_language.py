"""Error pages (400, 403, 404, 405, 413, 500) are the app's own page, their title and description in the reader's
language (a signed-in person's setting; before sign-in the language picked or the browser's), never werkzeug's
English page; the API keeps its JSON error shape (ERES-legibility, 21 CFR 11.10(b) readable form)."""
from __future__ import annotations

import html

import pytest

from edms.db import transaction
from edms.users.models import User
from tests.conftest import sign_in

WERKZEUG_ENGLISH = ("Not Found", "Method Not Allowed", "Request Entity Too Large", "Internal Server Error",
                    "The requested URL was not found on the server", "The method is not allowed",
                    "The data value transmitted exceeds the capacity limit", "You don't have the permission")


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def boom(app):
    """A page that fails unexpectedly, added before the app answers anything."""
    def fail():
        raise RuntimeError("disk on fire")

    app.add_url_rule("/boom-for-test", "boom_for_test", fail)
    return "/boom-for-test"


@pytest.mark.req("ERES-legibility")
def test_every_error_page_reads_in_japanese_for_a_japanese_reader(app, client, people, boom, organisation_pki):
    author = people.make("kenji.sato", "author", printed_name="Kenji Sato")
    with transaction(app.extensions["edms"].sessions) as session:
        session.get(User, author.id).language = "ja"  # his own setting
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ja"
    pages = {
        404: client.get("/no-such-page"),
        405: client.get("/logout"),
        413: client.post("/login", data={"username": "x" * 70_000}),
        500: client.get(boom),
    }
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-US"  # signed in, his own setting counts, not the browser's
    sign_in(client, "kenji.sato")
    pages[403] = client.get("/admin/users")
    expected = {404: ("ページが見つかりません", "該当するページまたは記録は存在しないか"),
                405: ("この操作はできません", "このアドレスはこの方法では使用できません"),
                413: ("サイズ超過", "送信された内容がサーバーの上限を超えています"),
                500: ("内部エラー", "保存されていません"),
                403: ("アクセス拒否", "ご自身のロールでは")}
    for code, response in pages.items():
        assert response.status_code == code
        body = text(response)
        title, description = expected[code]
        assert f"<h1>{code} · {title}</h1>" in body, (code, body[:2000])
        assert description in body, code
        assert '<html lang="ja"' in body, code
        assert not any(english in body for english in WERKZEUG_ENGLISH), code


@pytest.mark.req("ERES-legibility")
def test_error_pages_read_in_english_for_an_english_reader_and_a_views_own_description_is_kept(app, client, people):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-US"
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and "<h1>404 · Page not found</h1>" in text(missing)
    assert "There is no such page or record" in text(missing)
    people.make("emi.nakamura", "qa", printed_name="Emi Nakamura")
    sign_in(client, "emi.nakamura")
    bad = client.get("/cases/", query_string={"cursor": "-1"})
    assert bad.status_code == 400 and "<h1>400 · Bad request</h1>" in text(bad)
    assert "'cursor': the cursor is not one of this list's" in text(bad)  # the view's own description


def test_the_api_keeps_its_json_errors(app, client):
    response = client.get("/api/v1/no-such-route", headers={"Accept-Language": "ja"})
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
