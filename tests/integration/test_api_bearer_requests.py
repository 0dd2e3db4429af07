"""An API request with a bearer token is judged by its token alone: the page session's cookie is neither read
nor written and the page guards do not run for it, while pages keep every rule of their sessions; and a
read that wrote nothing commits nothing (edms.web.bearer, edms.db.wrote_nothing)."""
import time

import pytest
from sqlalchemy import event, select

from edms.audit.models import AuditEvent
from tests.conftest import bearer, sign_in

QA = "emi.nakamura"  # a QA signer of the signed case (tests/support/signed_case.py)


def test_a_bearer_read_by_someone_signed_in_neither_reads_nor_writes_their_page_cookie(client, signed_case):
    assert sign_in(client, QA).status_code == 302
    auth = bearer(client, QA)
    response = client.get(f"/api/v1/documents/{signed_case.documents[0]}", headers=auth)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers and "cookie" not in {value.lower() for value in response.vary}
    assert client.get("/").status_code == 200  # the page session is as it was


@pytest.mark.req("11.10(d)")
def test_bearer_calls_do_not_keep_an_idle_page_session_alive_and_the_page_still_times_out(app, client, signed_case):
    assert sign_in(client, QA).status_code == 302
    auth = bearer(client, QA)
    with client.session_transaction() as cookie:
        cookie["last_seen"] = time.time() - 16 * 60
    assert client.get(f"/api/v1/documents/{signed_case.documents[0]}", headers=auth).status_code == 200
    page = client.get("/")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    with app.extensions["edms"].sessions() as session:
        assert session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.session_timeout")).all()


def test_a_page_cookie_is_never_an_api_credential(client, signed_case):
    assert sign_in(client, QA).status_code == 302
    refused = client.get(f"/api/v1/documents/{signed_case.documents[0]}")
    assert refused.status_code == 401 and refused.json["error"]["code"] == "unauthorized"


def test_a_read_commits_nothing_and_a_write_commits_its_change(app, client, signed_case):
    engine = app.extensions["edms"].engine
    commits: list[str] = []

    def committed(_connection) -> None:
        commits.append("commit")

    event.listen(engine, "commit", committed)
    try:
        auth = bearer(client, QA)
        commits.clear()
        assert client.get(f"/api/v1/documents/{signed_case.documents[0]}", headers=auth).status_code == 200
        assert client.get("/api/v1/me", headers=auth).status_code == 200
        assert commits == []
        assert client.post("/api/v1/auth/revoke", headers=auth).status_code == 200
        assert commits == ["commit"]
    finally:
        event.remove(engine, "commit", committed)
    assert client.get(f"/api/v1/documents/{signed_case.documents[0]}", headers=auth).status_code == 401
