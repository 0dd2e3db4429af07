"""Sites over the API: the list (anyone signed in: opening a case names one), and the administrators' acts
(create, change, add or remove a member), the same use cases as the sites pages."""
from __future__ import annotations

from flask import abort, g, jsonify
from sqlalchemy import select

from edms.api import schemas as S
from edms.api.blueprint import bp, json_body, token_required
from edms.api.openapi import listing, operation
from edms.application import sites as site_acts
from edms.errors import N_
from edms.sites.errors import SiteError
from edms.sites.models import Site
from edms.sites.queries import members
from edms.timeutil import isoformat_utc
from edms.users.models import User
from edms.users.roles import ADMIN
from edms.web.errors import api_error
from edms.web.paging import page_of
from edms.web.runtime import audit_context, db, services

_SITE_BODY = {"type": "object", "required": ["name", "timezone", "country"],
              "properties": {"name": {"type": "string"}, "timezone": {"type": "string", "description": "IANA zone"},
                             "country": {"type": "string", "description": "ISO 3166-1 alpha-2"},
                             "reason": {"type": "string", "description": "required to change a site"}}}
_MEMBER_BODY = {"type": "object", "required": ["user_id", "reason"],
                "properties": {"user_id": {"type": "integer"}, "reason": {"type": "string"}}}


@bp.errorhandler(SiteError)
def site_refused(exc: SiteError):
    return api_error(400, "site_refused", str(exc))


def site_json(site: Site) -> dict:
    return {"id": site.id, "name": site.name, "timezone": site.timezone, "country": site.country,
            "created_at": isoformat_utc(site.created_at),
            "members": [{"id": u.id, "username": u.username, "printed_name": u.printed_name}
                        for u in members(db(), site)]}


def _site_or_404(site_id: int) -> Site:
    site = db().get(Site, site_id)
    if site is None:
        abort(404)
    return site


def _person(body: dict) -> User:
    person = db().get(User, body["user_id"]) if isinstance(body.get("user_id"), int) else None
    if person is None:
        raise SiteError(N_("Choose a person."))
    return person


@bp.get("/sites")
@operation("Every site: its name, time zone, country and members, by name; keyset-paginated (`next`, `cursor`)",
           schemas=listing(S.SITE, "next"))
@token_required()
def list_sites():
    page = page_of(select(Site), [Site.name, Site.id], descending=False)
    return jsonify({"items": [site_json(site) for site in page.items], "next": page.next})


@bp.post("/sites")
@operation("Create a site (administrators)", body=_SITE_BODY,
           responses={"201": "Created", "400": "Refused: nothing was changed"}, schemas={"201": S.SITE})
@token_required(ADMIN)
def create_site():
    body = json_body()
    site = site_acts.create_site(services(), db(), audit_context(), g.api_user, name=str(body.get("name", "")),
                                 timezone=str(body.get("timezone", "")), country=str(body.get("country", "")))
    return jsonify(site_json(site)), 201


@bp.get("/sites/<int:site_id>")
@operation("One site and its members", schemas={"200": S.SITE})
@token_required()
def get_site(site_id: int):
    return jsonify(site_json(_site_or_404(site_id)))


@bp.put("/sites/<int:site_id>")
@operation("Change a site's name, time zone or country, with a reason (administrators)", body=_SITE_BODY,
           responses={"200": "Changed", "400": "Refused: nothing was changed"}, schemas={"200": S.SITE})
@token_required(ADMIN)
def update_site(site_id: int):
    site = _site_or_404(site_id)
    body = json_body()
    site_acts.update_site(services(), db(), audit_context(), g.api_user, site, name=str(body.get("name", "")),
                          timezone=str(body.get("timezone", "")), country=str(body.get("country", "")),
                          reason=str(body.get("reason", "")))
    return jsonify(site_json(site))


@bp.post("/sites/<int:site_id>/members")
@operation("Add a person to a site, with a reason (administrators)", body=_MEMBER_BODY,
           responses={"200": "Added", "400": "Refused: nothing was changed"}, schemas={"200": S.SITE})
@token_required(ADMIN)
def add_site_member(site_id: int):
    site = _site_or_404(site_id)
    body = json_body()
    site_acts.add_member(services(), db(), audit_context(), g.api_user, site, _person(body), str(body.get("reason", "")))
    return jsonify(site_json(site))


@bp.post("/sites/<int:site_id>/members/remove")
@operation("Remove a person from a site, with a reason (administrators); the membership's history stays",
           body=_MEMBER_BODY, responses={"200": "Removed", "400": "Refused: nothing was changed"},
           schemas={"200": S.SITE})
@token_required(ADMIN)
def remove_site_member(site_id: int):
    site = _site_or_404(site_id)
    body = json_body()
    site_acts.remove_member(services(), db(), audit_context(), g.api_user, site, _person(body),
                            str(body.get("reason", "")))
    return jsonify(site_json(site))
