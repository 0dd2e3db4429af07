"""Sessions and bearer tokens end on the server (21 CFR 11.10(d), 11.300(c)): a replayed cookie after
sign-out signs nobody in, and a password change or reset, deactivation, lockout or a role taken away ends
every session and token of the person, on every app node (the epoch lives in the database)."""
import pytest
from sqlalchemy import select

from edms.application import access, accounts
from edms.audit import AuditContext
from edms.audit.models import AuditEvent
from edms.db import transaction
from edms.users.models import User
from tests.conftest import PASSWORD, bearer, csrf_token, sign_in

NEW_PASSWORD = "Another-Secret-2027!"


def _signed_in(app, username):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def _cookie(client) -> str:
    return client.get_cookie("edms_session").value


def _replay(app, cookie: str):
    """A fresh client (another browser, or another app node) presenting a copied session cookie."""
    other = app.test_client()
    other.set_cookie("edms_session", cookie)
    return other.get("/documents/")


@pytest.mark.req("11.10(d)")
def test_a_session_cookie_replayed_after_sign_out_no_longer_signs_anyone_in(app, people):
    people.make("kenji.sato", "author")
    client = _signed_in(app, "kenji.sato")
    cookie = _cookie(client)
    assert _replay(app, cookie).status_code == 200
    token = csrf_token(client.get("/").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    replayed = _replay(app, cookie)
    assert replayed.status_code == 302 and "/login" in replayed.headers["Location"]


def _admin_acts(app, admin_id, person_id, act):
    services = app.extensions["edms"]
    with transaction(services.sessions) as session:
        admin, person = session.get(User, admin_id), session.get(User, person_id)
        ctx = AuditContext(admin.id, admin.printed_name)
        if act == "reset":
            accounts.reset_password(services, session, ctx, person, "Temporary-Pass-2026", "forgotten",
                                    actor=admin, actor_password=PASSWORD)
        elif act == "deactivate":
            accounts.deactivate(services, session, ctx, person, "left the company")
        elif act == "role removed":
            accounts.set_roles(services, session, ctx, person, {"author"}, "moved back to authoring",
                               actor=admin, password=PASSWORD)


def _own_password_change(app, person_id):
    services = app.extensions["edms"]
    with transaction(services.sessions) as session:
        person = session.get(User, person_id)
        access.change_own_password(services, session, AuditContext(person.id, person.printed_name), person,
                                   PASSWORD, NEW_PASSWORD)


def _lock(app, person_id):
    for _ in range(5):
        sign_in(app.test_client(), "kenji.sato", "Wrong-Password-123")


@pytest.mark.req("11.10(d)")
@pytest.mark.req("11.300(c)")
@pytest.mark.parametrize("act", ["own password change", "reset", "deactivate", "lock", "role removed"])
def test_every_session_and_token_of_a_person_ends_when_their_authority_changes(app, client, people, admin, act):
    person = people.make("kenji.sato", {"author", "qa"})
    headers = bearer(client, "kenji.sato")
    browser = _signed_in(app, "kenji.sato")
    cookie = _cookie(browser)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    if act == "own password change":
        _own_password_change(app, person.id)
    elif act == "lock":
        _lock(app, person.id)
    else:
        _admin_acts(app, admin.id, person.id, act)
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    replayed = _replay(app, cookie)
    assert replayed.status_code == 302 and "/login" in replayed.headers["Location"]
    with app.extensions["edms"].sessions() as session:
        ended = session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.sessions_ended",
                                                         AuditEvent.object_id == str(person.id))).all()
    assert len(ended) == 1 and '"tokens_revoked":{"new":1' in ended[0].changes


def test_the_page_that_changed_the_password_stays_signed_in(app, people):
    people.make("kenji.sato", "author")
    client = _signed_in(app, "kenji.sato")
    page = client.get("/account/password").get_data(as_text=True)
    changed = client.post("/account/password", data={
        "csrf_token": csrf_token(page), "current_password": PASSWORD, "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD})
    assert changed.status_code == 302
    assert client.get("/documents/").status_code == 200
