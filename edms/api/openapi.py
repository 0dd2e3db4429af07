"""The OpenAPI 3.1 document, assembled from the path descriptions each API module registers."""
from __future__ import annotations

from typing import Any

from edms import __version__

PATHS: dict[str, dict[str, Any]] = {}

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


def describe(path: str, method: str, summary: str, *, body: dict | None = None, secured: bool = True,
             responses: dict[str, str] | None = None, parameters: list[dict] | None = None,
             body_type: str = "application/json") -> None:
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {
            code: {"description": text, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            if code.startswith(("4", "5")) else {"description": text}
            for code, text in (responses or {"200": "OK"}).items()
        },
    }
    if secured:
        operation["security"] = [{"bearer": []}]
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {body_type: {"schema": body}}}
    PATHS.setdefault(path, {})[method.lower()] = operation


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "edms API", "version": __version__},
        "servers": [{"url": "/api/v1"}],
        "paths": dict(sorted(PATHS.items())),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR_SCHEMA},
        },
    }
