"""Sign-in reveals nothing (21 CFR 11.300(d), 11.10(d)): an unknown name, a wrong password, a locked or a
deactivated account get the same page, status and JSON, and every attempt runs one Argon2 verification."""
import re
from datetime import timedelta

import pytest

from edms.db import transaction
from edms.timeutil import utc_now
from edms.users import authentication
from edms.users.models import User
from tests.conftest import PASSWORD, csrf_token

WRONG = "Wrong-Password-123"


def _accounts(people):
    people.make("kenji.sato", "author")
    locked = people.make("emi.nakamura", "qa")
    gone = people.make("taro.yamada", "qa")
    expired = people.make("hana.ito", "qa")
    with transaction(people.sessions) as session:
        session.get(User, locked.id).locked_at = utc_now()
        session.get(User, gone.id).active = False
        session.get(User, expired.id).access_expires_at = utc_now() - timedelta(days=1)


CASES = [("kenji.sato", WRONG), ("nobody.here", WRONG), ("emi.nakamura", WRONG), ("emi.nakamura", PASSWORD),
         ("taro.yamada", WRONG), ("taro.yamada", PASSWORD), ("hana.ito", PASSWORD)]


def _normalised(html: str, username: str) -> str:
    """The page without what differs by design: the CSRF token, the request id, and the name as typed."""
    html = html.replace(f'value="{username}"', 'value="typed"')
    html = re.sub(r'name="csrf_token" (type="hidden" )?value="[^"]+"', "csrf", html)
    return re.sub(r"[0-9a-f]{32}", "request-id", html)


@pytest.mark.req("11.300(d)")
def test_every_refused_sign_in_gets_the_same_page_and_the_same_json(app, people):
    _accounts(people)
    pages, answers = set(), set()
    for username, password in CASES:
        client = app.test_client()
        form = client.get("/login").get_data(as_text=True)
        page = client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_token(form)})
        pages.add((page.status_code, _normalised(page.get_data(as_text=True), username)))
        api = app.test_client().post("/api/v1/auth/token", json={"username": username, "password": password})
        answers.add((api.status_code, api.get_data()))
    assert len(pages) == 1 and next(iter(pages))[0] == 200
    assert len(answers) == 1 and next(iter(answers))[0] == 401


@pytest.mark.req("11.300(d)")
@pytest.mark.parametrize("username", ["nobody.here", "kenji.sato", "emi.nakamura", "taro.yamada"])
def test_every_sign_in_attempt_runs_one_password_hash_verification_known_name_or_not(app, people, monkeypatch,
                                                                                       username):
    _accounts(people)
    calls = []
    real = authentication.verify_password

    def counting(policy, stored_hash, password):
        calls.append(stored_hash)
        return real(policy, stored_hash, password)

    monkeypatch.setattr(authentication, "verify_password", counting)
    response = app.test_client().post("/api/v1/auth/token", json={"username": username, "password": WRONG})
    assert response.status_code == 401
    assert len(calls) == 1 and calls[0].startswith("$argon2id$")
