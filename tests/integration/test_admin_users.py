"""Account administration through the admin pages (21 CFR 11.10(g), 11.100(a), Annex 11 §12, PIC/S 9.5)."""
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from edms.audit.models import AuditEvent
from edms.users.models import User
from tests.conftest import PASSWORD, csrf_token, sign_in

NEW_USER = {
    "username": "emi.nakamura", "printed_name": "Emi Nakamura", "title": "QA Specialist", "email": "emi@example.org",
    "timezone": "Asia/Tokyo", "language": "ja", "roles": ["qa"], "password": "Initial-Pass-2026!",
}


def post_form(client, page_url, action_url, data):
    page = client.get(page_url).get_data(as_text=True)
    return client.post(action_url, data={**data, "csrf_token": csrf_token(page)})


def latest(app, action):
    with app.extensions["edms"].sessions() as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq.desc())).first()


def user_named(app, username):
    with app.extensions["edms"].sessions() as session:
        return session.scalar(select(User).where(User.username == username))


@pytest.mark.req("A11-12")
def test_admin_creates_a_user_who_must_change_the_password(app, admin_client, client):
    response = post_form(admin_client, "/admin/users/new", "/admin/users/new", NEW_USER)
    assert response.status_code == 302
    created = user_named(app, "emi.nakamura")
    assert created.roles == {"qa"} and created.must_change_password
    event = latest(app, "user.created")
    assert event.actor_name == "Daisuke Kato" and '"roles":{"new":["qa"]' in event.changes
    assert "password" not in event.changes


@pytest.mark.req("PICS-9.5")
def test_generic_names_and_admin_plus_content_roles_are_refused_with_a_clear_message(app, admin_client):
    response = post_form(admin_client, "/admin/users/new", "/admin/users/new", {**NEW_USER, "username": "qa.lab"})
    assert "generic name" in response.get_data(as_text=True)
    response = post_form(admin_client, "/admin/users/new", "/admin/users/new",
                         {**NEW_USER, "roles": ["admin", "qa"]})
    assert "cannot also author" in response.get_data(as_text=True)
    assert user_named(app, "emi.nakamura") is None


@pytest.mark.req("11.100(a)")
def test_a_user_name_is_never_issued_twice_even_after_deactivation(app, admin_client, people):
    person = people.make("emi.nakamura", "qa")
    post_form(admin_client, f"/admin/users/{person.id}", f"/admin/users/{person.id}/deactivate", {"reason": "left the company"})
    assert user_named(app, "emi.nakamura").active is False
    response = post_form(admin_client, "/admin/users/new", "/admin/users/new", {**NEW_USER, "username": "Emi.Nakamura"})
    assert "can never be issued again" in response.get_data(as_text=True)


@pytest.mark.req("11.10(c)")
def test_accounts_cannot_be_deleted_even_with_sql(app, people):
    person = people.make("emi.nakamura", "qa")
    engine = app.extensions["edms"].engine
    with pytest.raises(DBAPIError, match="append-only|DELETE refused"):
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM users WHERE id = :id"), {"id": person.id})
    assert user_named(app, "emi.nakamura") is not None


@pytest.mark.req("11.10(k)")
@pytest.mark.req("A11-12")
def test_role_changes_are_audited_with_old_and_new_values_and_reason(app, admin_client, people):
    person = people.make("emi.nakamura", "qa")
    response = post_form(admin_client, f"/admin/users/{person.id}", f"/admin/users/{person.id}/roles",
                         {"roles": ["qa", "regulatory"], "reason": "covers regulatory submissions from December",
                          "your_password": PASSWORD})
    assert response.status_code == 302
    event = latest(app, "user.roles_changed")
    assert event.changes == '{"roles":{"new":["qa","regulatory"],"old":["qa"]}}'
    assert event.reason == "covers regulatory submissions from December"


@pytest.mark.req("A11-9")
def test_changes_without_a_reason_are_refused_and_change_nothing(app, admin_client, people):
    person = people.make("emi.nakamura", "qa")
    post_form(admin_client, f"/admin/users/{person.id}", f"/admin/users/{person.id}/roles",
              {"roles": ["regulatory"], "reason": "", "your_password": PASSWORD})
    assert user_named(app, "emi.nakamura").roles == {"qa"}
    assert latest(app, "user.roles_changed") is None


def test_admin_unlocks_a_locked_account(app, admin_client, people, client):
    person = people.make("emi.nakamura", "qa")
    other = app.test_client()
    for _ in range(5):
        sign_in(other, "emi.nakamura", "Wrong-Password-123")
    assert user_named(app, "emi.nakamura").locked
    post_form(admin_client, f"/admin/users/{person.id}", f"/admin/users/{person.id}/unlock",
              {"reason": "identity confirmed by phone"})
    assert not user_named(app, "emi.nakamura").locked
    assert sign_in(other, "emi.nakamura").status_code == 302


def test_admin_password_reset_forces_a_change(app, admin_client, people):
    person = people.make("emi.nakamura", "qa")
    post_form(admin_client, f"/admin/users/{person.id}", f"/admin/users/{person.id}/password",
              {"password": "Temporary-Pass-2026", "reason": "forgotten password, identity checked in person",
               "your_password": PASSWORD})
    assert user_named(app, "emi.nakamura").must_change_password


@pytest.mark.req("11.10(g)")
def test_only_administrators_reach_the_admin_pages(app, client, people):
    people.make("emi.nakamura", "qa")
    sign_in(client, "emi.nakamura")
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/users/new").status_code == 403


def test_profile_edit_records_field_by_field_changes(app, admin_client, people):
    person = people.make("emi.nakamura", "qa")
    response = post_form(admin_client, f"/admin/users/{person.id}", f"/admin/users/{person.id}/edit", {
        "printed_name": "Emi Nakamura-Smith", "title": "QA Lead", "email": "emi@example.org", "timezone": "Europe/Berlin",
        "language": "en", "reason": "name change after marriage"})
    assert response.status_code == 302
    event = latest(app, "user.updated")
    assert '"printed_name":{"new":"Emi Nakamura-Smith","old":"Emi Nakamura"}' in event.changes
    assert event.reason == "name change after marriage"
