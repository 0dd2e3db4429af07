"""Role × route: administrators manage accounts but never touch controlled content; content roles never
administer (21 CFR 11.10(g), PIC/S PI 041 §9.5). Routes come from the app's URL map, so new ones are covered."""
import pytest
from werkzeug.routing import IntegerConverter

from tests.conftest import bearer, csrf_token, sign_in

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CONTENT_BLUEPRINTS = ("documents.", "cases.", "tasks.")


def write_routes(app, prefixes):
    return sorted(((rule, method) for rule in app.url_map.iter_rules() for method in rule.methods & WRITE_METHODS
                   if rule.endpoint.startswith(prefixes)), key=lambda item: (item[0].rule, item[1]))


def url(rule):
    return rule.build({name: 1 if isinstance(rule._converters[name], IntegerConverter) else "pdf"
                       for name in rule.arguments})[1]


@pytest.mark.req("11.10(g)")
@pytest.mark.req("PICS-9.5")
def test_an_administrator_is_refused_every_content_write_route(app, admin_client):
    token = csrf_token(admin_client.get("/admin/users").get_data(as_text=True))
    routes = write_routes(app, CONTENT_BLUEPRINTS)
    assert len(routes) >= 10
    for rule, method in routes:
        response = admin_client.open(url(rule), method=method, data={"csrf_token": token, "reason": "x"})
        assert response.status_code == 403, (rule.rule, method, response.status_code)


@pytest.mark.req("11.10(g)")
def test_a_content_role_is_refused_every_administration_write_route(app, client, people):
    people.make("kenji.sato", "author")
    people.make("emi.nakamura", "qa")
    sign_in(client, "kenji.sato")
    token = csrf_token(client.get("/").get_data(as_text=True))
    routes = write_routes(app, ("admin.",))
    assert len(routes) >= 5
    for rule, method in routes:
        response = client.open(url(rule), method=method, data={"csrf_token": token, "reason": "x", "password": "y" * 12})
        assert response.status_code == 403, (rule.rule, method, response.status_code)


AUTHORITY_ACTS = {
    # An act that grants, delegates or changes authority, as a form a signed-in person posts.
    "role change": ("/admin/users/{person}/roles", {"roles": ["qa", "regulatory"], "reason": "covers submissions"}),
    "password reset": ("/admin/users/{person}/password", {"password": "Temporary-Pass-2026", "reason": "forgotten"}),
    "delegation": ("/delegations/", {"role": "qa", "delegate_id": "{person}", "starts_at": "2030-01-01T09:00",
                                     "ends_at": "2030-01-08T09:00", "reason": "leave"}),
}


@pytest.mark.req("11.10(g)")
@pytest.mark.req("11.300(d)")
@pytest.mark.parametrize("act", sorted(AUTHORITY_ACTS))
@pytest.mark.parametrize("password", ["", "Wrong-Password-123"])
def test_an_act_of_authority_needs_the_actors_password_again_and_a_wrong_one_counts_towards_lockout(
        app, admin_client, people, act, password):
    from sqlalchemy import func, select

    from edms.audit.models import AuditEvent
    from edms.users.models import User

    person = people.make("emi.nakamura", "qa")
    path, form = AUTHORITY_ACTS[act]
    form = {key: value.format(person=person.id) if isinstance(value, str) else value for key, value in form.items()}
    if act == "delegation":
        people.make("kenji.sato", "qa")  # the absent person delegates to Emi; administrators name the delegator
        with app.extensions["edms"].sessions() as session:
            form["delegator_id"] = str(session.scalar(select(User.id).where(User.username == "kenji.sato")))
    page = admin_client.get("/admin/users").get_data(as_text=True)
    admin_client.post(path.format(person=person.id),
                      data={**form, "csrf_token": csrf_token(page), "your_password": password,
                            **({"password": password} if act == "delegation" else {})})
    with app.extensions["edms"].sessions() as session:
        admin = session.scalar(select(User).where(User.username == "daisuke.kato"))
        changed = session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action.in_(
            ("user.roles_changed", "user.password_reset", "delegation.created"))))
        failures = session.scalars(select(AuditEvent.reason).where(AuditEvent.action == "auth.failed")).all()
    assert changed == 0
    if password:  # an empty field is an incomplete form (a page refuses it before any check); a wrong one counts
        assert admin.failed_logins == 1 and len(failures) == 1 and "confirmation of" in failures[0]


# Path arguments that name a case, a record of one or a signature on one (edms.web.scope): every route that
# has one answers a physician of another site as if the case did not exist.
CASE_ARGUMENTS = {"case_id", "document_id", "signature_id"}


def _case_routes(app):
    return sorted(((rule, method) for rule in app.url_map.iter_rules() if CASE_ARGUMENTS & set(rule.arguments)
                   for method in rule.methods - {"HEAD", "OPTIONS"}), key=lambda item: (item[0].rule, item[1]))


def _case_url(rule, signed_case):
    values = {"case_id": signed_case.case_id, "document_id": signed_case.documents[0], "number": 1,
              "attachment_id": 1, "signature_id": signed_case.signatures[0], "fmt": "pdf", "name": "manifest.json",
              "type_key": "qa_release"}
    return rule.build({name: values[name] for name in rule.arguments})[1]


@pytest.mark.req("11.10(d)")
@pytest.mark.req("11.10(g)")
def test_a_physician_of_another_site_is_refused_every_page_and_api_route_of_the_case_and_nothing_changes(
        app, client, people, signed_case):
    from sqlalchemy import func, select

    from edms.audit.models import AuditEvent
    from edms.db import transaction
    from edms.sites import operations as site_ops
    from edms.users.models import User
    from tests.support.people import acting
    from tests.support.signed_case import SIGNERS, VERIFIER

    people.make("lukas.weber", "physician", printed_name="Dr. med. Lukas Weber", timezone="Europe/Berlin")
    with transaction(app.extensions["edms"].sessions) as session:
        admin = session.scalar(select(User).where(User.username == VERIFIER[0]))
        weber = session.scalar(select(User).where(User.username == "lukas.weber"))
        site = site_ops.create_site(session, acting(admin), admin, "Charité Berlin", "Europe/Berlin", "DE")
        site_ops.add_member(session, acting(admin), admin, site, weber, "Treats patients at this site")
    headers = bearer(client, "lukas.weber")
    sign_in(client, "lukas.weber")
    token = csrf_token(client.get("/").get_data(as_text=True))
    routes = _case_routes(app)
    assert len(routes) >= 40
    with app.extensions["edms"].sessions() as session:
        before = session.scalar(select(func.max(AuditEvent.seq)))
    for rule, method in routes:
        path = _case_url(rule, signed_case)
        if rule.endpoint.startswith("api."):
            response = client.open(path, method=method, headers=headers, json={"reason": "x", "password": "y"})
            # a role the physician lacks is refused first (403); any other answer names nothing of the case
            assert response.status_code in (403, 404), (rule.rule, method, response.status_code)
        else:
            response = client.open(path, method=method, data={"csrf_token": token, "reason": "x", "password": "y"})
            assert response.status_code == 404, (rule.rule, method, response.status_code)
    with app.extensions["edms"].sessions() as session:
        recorded = session.scalars(select(AuditEvent.action).where(AuditEvent.seq > before)).all()
    # nothing was changed, nothing signed; a route the physician's role does not open (403) left its audit entry
    assert set(recorded) == {"access.refused"}
    # The physician named on the case opens the same pages.
    client.post("/logout", data={"csrf_token": token})
    sign_in(client, SIGNERS["physician"][0][0])
    assert client.get(f"/cases/{signed_case.case_id}").status_code == 200
    assert client.get(f"/documents/{signed_case.documents[0]}").status_code == 200
