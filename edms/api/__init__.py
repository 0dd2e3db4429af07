"""The JSON API under /api/v1: bearer tokens, stable error shape, OpenAPI document."""
