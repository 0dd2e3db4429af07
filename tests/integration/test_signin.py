"""Signing in and out, lockout, forced password change and idle timeout (21 CFR 11.10(d), 11.300)."""
import time

import pytest
from sqlalchemy import select

from edms.audit.models import AuditEvent
from tests.conftest import PASSWORD, csrf_token, sign_in


def events(app, action):
    with app.extensions["edms"].sessions() as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).all()


@pytest.mark.req("11.10(d)")
def test_every_page_requires_a_signed_in_user(app, client):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in {"static", "auth.login", "main.set_language"} or rule.arguments - {"user_id"}:
            continue
        if rule.rule.startswith("/api/"):
            continue
        url = rule.rule.replace("<int:user_id>", "1")
        method = "GET" if "GET" in rule.methods else "POST"
        response = client.open(url, method=method)
        assert response.status_code in (302, 400, 401), rule.rule
        if response.status_code == 302:
            assert "/login" in response.headers["Location"], rule.rule


@pytest.mark.req("11.10(e)")
def test_sign_in_and_sign_out_are_audited(app, client, people):
    people.make("kenji.sato", "author")
    response = sign_in(client, "kenji.sato")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    home = client.get("/")
    assert "Kenji Sato" in home.get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(home.get_data(as_text=True))})
    assert client.get("/").status_code == 302
    signed_in = events(app, "auth.signed_in")
    assert signed_in[-1].actor_name == "Kenji Sato" and signed_in[-1].client_addr == "127.0.0.1"
    assert events(app, "auth.signed_out")


@pytest.mark.req("11.300(d)")
def test_wrong_passwords_are_audited_and_lock_the_account_after_five(app, client, people, admin):
    people.make("kenji.sato", "author")
    for _attempt in range(5):
        response = sign_in(client, "kenji.sato", "Wrong-Password-123")
        assert response.status_code == 200
    assert "locked" in response.get_data(as_text=True)
    assert len(events(app, "auth.failed")) == 5
    assert len(events(app, "auth.locked")) == 1
    # Even the right password is refused until an administrator unlocks the account.
    assert "locked" in sign_in(client, "kenji.sato").get_data(as_text=True)
    # Administrators see the alert on their home page.
    sign_in(client, "daisuke.kato")
    assert "Account locked" in client.get("/").get_data(as_text=True)  # the action's label, not its key


@pytest.mark.req("11.300(d)")
def test_unknown_user_names_fail_the_same_way_and_are_audited(app, client):
    response = sign_in(client, "nobody.here", "Whatever-Pass-2026")
    assert "not correct" in response.get_data(as_text=True)
    assert events(app, "auth.failed")[-1].reason.startswith("unknown user name")


@pytest.mark.req("11.300(a)-(b)")
def test_first_sign_in_after_an_administrator_sets_the_password_forces_a_change(app, client, people):
    people.make("kenji.sato", "author", must_change_password=True)
    sign_in(client, "kenji.sato")
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/account/password"
    page = client.get("/account/password").get_data(as_text=True)
    assert "must choose a new password" in page
    form = {"current_password": PASSWORD, "new_password": "Fresh-Batch-Release-9", "confirm_password": "Fresh-Batch-Release-9",
            "csrf_token": csrf_token(page)}
    assert client.post("/account/password", data=form).status_code == 302
    assert client.get("/").status_code == 200
    assert events(app, "user.password_changed")


@pytest.mark.req("11.300(a)-(b)")
def test_expired_passwords_must_be_changed(app, client, people):
    from datetime import timedelta

    user = people.make("kenji.sato", "author")
    with app.extensions["edms"].sessions() as session:
        stored = session.get(type(user), user.id)
        stored.password_changed_at = stored.password_changed_at - timedelta(days=91)
        session.commit()
    sign_in(client, "kenji.sato")
    assert client.get("/").headers["Location"] == "/account/password"


@pytest.mark.req("11.10(d)")
def test_idle_sessions_end(app, client, people):
    people.make("kenji.sato", "author")
    sign_in(client, "kenji.sato")
    assert client.get("/").status_code == 200
    with client.session_transaction() as session:
        session["last_seen"] = time.time() - 16 * 60
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert events(app, "auth.session_timeout")
    assert client.get("/").status_code == 302


def test_deactivated_accounts_cannot_sign_in(app, client, people, admin):
    from edms.audit import AuditContext
    from edms.users import operations as ops

    user = people.make("kenji.sato", "author")
    with app.extensions["edms"].sessions() as session:
        ops.deactivate(session, AuditContext(admin.id, "Daisuke Kato"), session.get(type(user), user.id), "left the company")
        session.commit()
    assert "deactivated" in sign_in(client, "kenji.sato").get_data(as_text=True)
