"""Accounts over the API (administrators), the same operations as the admin pages."""
from __future__ import annotations

from flask import jsonify
from sqlalchemy import select

from edms.api import schemas as S
from edms.api.auth_routes import user_json
from edms.api.blueprint import bp, token_required
from edms.api.openapi import listing, operation
from edms.users.models import User
from edms.users.roles import ADMIN
from edms.web.paging import page_of


@bp.get("/users")
@operation(
    "Access report: every account and its roles (administrators), by user name; keyset-paginated (`next`, `cursor`)",
    schemas=listing(S.USER, "next"),
    responses={"200": "OK", "401": "No valid token", "403": "Not an administrator"},
)
@token_required(ADMIN)
def list_users():
    page = page_of(select(User), [User.username, User.id], descending=False)
    return jsonify({"items": [user_json(user) for user in page.items], "next": page.next})

