"""Role × route: administrators manage accounts but never touch controlled content; content roles never
administer (21 CFR 11.10(g), PIC/S PI 041 §9.5). Routes come from the app's URL map, so new ones are covered."""
import pytest
from werkzeug.routing import IntegerConverter

from tests.conftest import csrf_token, sign_in

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
