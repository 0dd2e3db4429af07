"""The OpenAPI document is complete: generated from the app's URL map, it describes every API route with its
path parameters, a request body schema for every write with a body, and a schema for every response. The
routes are walked here independently of the generator, so a route added without `@operation` fails."""
import re

import pytest

from edms.api.openapi import ERROR_SCHEMA

BODY_METHODS = {"POST", "PUT", "PATCH"}
# Writes whose only input is the path (and the token): no body to describe.
# POSTs that take nothing but the path (the exports are POST because they write their audit event and a checkpoint).
WITHOUT_BODY = {("POST", "/documents/{document_id}/submit"), ("POST", "/auth/revoke"),
                ("POST", "/documents/{document_id}/export"), ("POST", "/cases/{case_id}/export"),
                ("POST", "/jobs/{job_id}/retry")}


def api_operations(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^:<>]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method, path


def resolve(schema, spec):
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        return spec["components"]["schemas"][name]
    return schema


@pytest.mark.req("A11-5")
def test_the_openapi_document_describes_every_api_route_completely(app):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    operations = list(api_operations(app))
    assert len(operations) >= 40
    for rule, method, path in operations:
        where = f"{method} {path}"
        operation = spec["paths"][path][method.lower()]
        assert operation["summary"], where
        path_parameters = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert path_parameters == set(rule.arguments), where
        for parameter in operation.get("parameters", []):
            assert parameter["schema"], (where, parameter["name"])
        if method in BODY_METHODS and (method, path) not in WITHOUT_BODY:
            [(media_type, body)] = operation["requestBody"]["content"].items()
            assert body["schema"]["type"] == "object" and body["schema"]["properties"], where
            assert set(body["schema"].get("required", [])) <= set(body["schema"]["properties"]), where
        assert operation["responses"], where
        for status, response in operation["responses"].items():
            assert response["content"], (where, status)
            for content in response["content"].values():
                assert content["schema"], (where, status)
                if status.startswith(("4", "5")):
                    assert resolve(content["schema"], spec) == ERROR_SCHEMA, (where, status)


@pytest.mark.req("A11-5")
def test_an_operation_names_the_refusals_its_route_can_give(app):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    create = spec["paths"]["/documents"]["post"]["responses"]
    assert {"201", "400", "401", "403"} <= set(create)
    version = spec["paths"]["/documents/{document_id}/versions/{number}"]["get"]
    assert "404" in version["responses"]
    [number] = [p for p in version["parameters"] if p["name"] == "number"]
    assert number["schema"] == {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}


# Success answers that are files, not JSON: their schema is a string of bytes.
BINARY_MEDIA_TYPES = {"application/pdf", "application/zip", "application/octet-stream", "application/x-pem-file",
                      "application/pkix-crl",
                      "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


def spelled_out(schema, spec):
    """An object schema names its properties (a bare {"type": "object"} says nothing); a list's items too."""
    schema = resolve(schema, spec)
    properties = schema.get("properties")
    if not properties:
        return False
    if not set(schema.get("required", [])) <= set(properties):
        return False
    items = properties.get("items")
    return items is None or items.get("type") != "array" or spelled_out(items["items"], spec)


@pytest.mark.req("A11-5")
def test_every_success_answer_has_a_schema_with_its_fields(app):
    import jsonschema_rs  # schemathesis's validator

    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    for _rule, method, path in api_operations(app):
        for status, response in spec["paths"][path][method.lower()]["responses"].items():
            if not status.startswith("2"):
                continue
            for media_type, content in response["content"].items():
                where = (method, path, status, media_type)
                if media_type in BINARY_MEDIA_TYPES:
                    assert content["schema"] == {"type": "string"}, where
                    continue
                assert media_type == "application/json", where
                jsonschema_rs.meta.validate(content["schema"])  # a valid JSON Schema, or an error
                assert spelled_out(content["schema"], spec), where


def test_a_bare_object_or_a_list_of_bare_objects_is_not_spelled_out(app):
    from edms.api.openapi import OBJECT, listing

    spec = {"components": {"schemas": {}}}
    assert not spelled_out(OBJECT, spec)
    assert not spelled_out(listing(OBJECT)["200"], spec)
    assert spelled_out(listing({"type": "object", "properties": {"id": {"type": "integer"}}})["200"], spec)
