"""The OpenAPI 3.1 document, generated from the routes: each API view carries its operation (summary, query
parameters, request body schema, responses) as data declared with `@operation` next to the route, and the
document walks the app's URL map, so a route without a description cannot hide and path parameters are
the URL converters' own. Every error response is the one JSON shape of `api_error`."""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask
from werkzeug.routing import Rule

from edms import __version__
from edms.web.bounds import DB_INT_MAX, IdConverter

PREFIX = "/api/v1"
_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^:<>]+)>")

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "object"}},
        }
    },
}
# A success answer whose fields are not spelled out is still a JSON object: never a list, text or HTML.
OBJECT = {"type": "object"}
ATTRIBUTE = "openapi_operation"


def listing(item: dict, *page_keys: str) -> dict[str, dict]:
    """The success schema of a list: {items: [item]}, with the keys that page on when there are some (`next`:
    the opaque keyset cursor of the next page, null on the last one; edms.web.paging)."""
    properties: dict[str, dict] = {"items": {"type": "array", "items": item}}
    for page_key in page_keys:
        properties[page_key] = {"type": ["integer", "string", "null"]}
    return {"200": {"type": "object", "required": sorted(properties), "properties": properties}}

# What a refusal means, when the route does not say it in its own words.
_DEFAULT_ERRORS = {
    "400": "Invalid request (a malformed body or parameter): nothing was changed",
    "401": "No valid bearer token",
    "403": "Not allowed for the caller's roles",
    "404": "No such object",
    "429": "Too many refused credentials from this client: wait for the window to pass",
}


def operation(summary: str, *, body: dict | None = None, body_type: str = "application/json",
              secured: bool = True, responses: dict[str, str] | None = None, parameters: list[dict] | None = None,
              schemas: dict[str, dict] | None = None,
              media_types: Mapping[str, str | tuple[str, ...]] | None = None) -> Callable:
    """Declare a view's operation. `responses` maps status codes to their meaning (2xx and 3xx codes other
    than those listed are not answered); `schemas` gives a success response's body schema (a JSON object
    otherwise) and `media_types` its media type or types (JSON otherwise); `parameters` are the query parameters and
    any path parameter whose schema is narrower than its URL converter's."""

    def decorate(view: Callable) -> Callable:
        setattr(view, ATTRIBUTE, {
            "summary": summary, "body": body, "body_type": body_type, "secured": secured,
            "responses": responses or {"200": "OK"}, "parameters": parameters or [],
            "schemas": schemas or {}, "media_types": dict(media_types or {}),
        })
        return view

    return decorate


_JSON_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "boolean": (bool,), "object": (dict,),
                                            "array": (list,), "number": (int, float)}


def body_problems(body: dict, schema: dict) -> dict[str, str]:
    """What in a JSON body contradicts the schema its operation declares: each given field must have the
    declared JSON type (a missing one is the view's to explain, in the terms of the use case)."""
    problems = {}
    for name, field in schema.get("properties", {}).items():
        if body.get(name) is None or "type" not in field:  # null is an absent field, as the views read it
            continue
        value = body[name]
        expected = _JSON_TYPES[field["type"]]
        if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
            problems[name] = f"must be a JSON {field['type']}"
    return problems


def _openapi_path(rule: Rule) -> str:
    """/documents/<int:document_id> becomes /documents/{document_id}."""
    return _VARIABLE.sub(r"{\1}", rule.rule[len(PREFIX):])


def _path_parameter(rule: Rule, name: str, declared: list[dict]) -> dict:
    for parameter in declared:
        if parameter.get("in") == "path" and parameter["name"] == name:
            return {**parameter, "required": True}
    if isinstance(rule._converters[name], IdConverter):  # noqa: SLF001
        schema: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": DB_INT_MAX}
    else:
        schema = {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _response(status: str, text: str, described: dict) -> dict:
    if status.startswith(("4", "5")):
        return {"description": text, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    media = described["media_types"].get(status, "application/json")
    return {"description": text, "content": {
        kind: {"schema": described["schemas"].get(status, OBJECT if kind == "application/json" else {"type": "string"})}
        for kind in ((media,) if isinstance(media, str) else media)}}


def _operation(rule: Rule, method: str, described: dict, roles: tuple[str, ...]) -> dict[str, Any]:
    declared = described["parameters"]
    parameters = [_path_parameter(rule, name, declared) for name in sorted(rule.arguments)]
    parameters += [parameter for parameter in declared if parameter.get("in") != "path"]
    responses = dict(described["responses"])
    implied = {"400": bool(parameters) or described["body"] is not None or method not in ("GET", "HEAD"),
               "401": described["secured"], "403": described["secured"] and (method != "GET" or bool(roles)),
               "404": bool(rule.arguments),
               # bearer-token routes share the sign-in limiter for refused credentials (api/blueprint.py)
               "429": described["secured"]}
    for status, needed in implied.items():
        if needed:
            responses.setdefault(status, _DEFAULT_ERRORS[status])
    result: dict[str, Any] = {
        "operationId": f"{method.lower()}_{rule.endpoint.removeprefix('api.')}",
        "summary": described["summary"],
        "responses": {status: _response(status, text, described) for status, text in sorted(responses.items())},
    }
    if described["secured"]:
        result["security"] = [{"bearer": []}]
    if parameters:
        result["parameters"] = parameters
    if described["body"] is not None:
        result["requestBody"] = {"required": True, "content": {described["body_type"]: {"schema": described["body"]}}}
    return result


def api_rules(app: Flask) -> list[Rule]:
    """The rules of the API, in a stable order."""
    return sorted((rule for rule in app.url_map.iter_rules() if rule.rule.startswith(PREFIX + "/")),
                  key=lambda rule: rule.rule)


def document(app: Flask) -> dict[str, Any]:
    """The document of every API route; a route whose view declares no operation is a LookupError."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in api_rules(app):
        view = app.view_functions[rule.endpoint]
        described = getattr(view, ATTRIBUTE, None)
        if described is None:
            raise LookupError(f"the API route {rule.rule} declares no operation (@operation)")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(_openapi_path(rule), {})[method.lower()] = _operation(rule, method, described,
                                                                            getattr(view, "required_roles", ()))
    return {
        "openapi": "3.1.0",
        "info": {"title": "edms API", "version": __version__},
        "servers": [{"url": PREFIX}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR_SCHEMA},
        },
    }
