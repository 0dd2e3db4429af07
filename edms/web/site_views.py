"""Sites (administrators): each hospital as a record with its time zone and country, and who belongs to it.
A physician sees the cases of the sites they belong to (edms.workflow.visibility)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from edms.application import sites as site_acts
from edms.errors import N_
from edms.sites.errors import SiteError
from edms.sites.models import Site
from edms.sites.queries import all_sites, members
from edms.sites.zones import country_of_zone
from edms.timeutil import zone_names
from edms.users.models import User
from edms.users.roles import ADMIN
from edms.web.bounds import db_int
from edms.web.guards import roles_required
from edms.web.i18n import translate_error
from edms.web.runtime import audit_context, db, services

bp = Blueprint("sites", __name__, url_prefix="/admin/sites")


def _site_or_404(site_id: int) -> Site:
    site = db().get(Site, site_id)
    if site is None:
        abort(404)
    return site


@bp.route("", methods=["GET", "POST"])
@roles_required(ADMIN)
def index():
    form = FlaskForm()
    values = request.form if request.method == "POST" else {}
    if request.method == "POST" and form.validate_on_submit():
        zone = request.form.get("timezone", "")
        try:
            site = site_acts.create_site(services(), db(), audit_context(), current_user.user,
                                         name=request.form.get("name", ""), timezone=zone,
                                         country=request.form.get("country", "") or country_of_zone(zone) or "")
        except SiteError as exc:
            flash(translate_error(exc), "error")
        else:
            flash(_("Site %(name)s created.", name=site.name), "success")
            return redirect(url_for("sites.detail", site_id=site.id))
    return render_template("admin/sites.html", sites=all_sites(db()), form=form, zones=zone_names(), values=values,
                           members={site.id: members(db(), site) for site in all_sites(db())})


@bp.get("/<int:site_id>")
@roles_required(ADMIN)
def detail(site_id: int):
    site = _site_or_404(site_id)
    present = members(db(), site)
    candidates = [u for u in db().scalars(select(User).where(User.active.is_(True)).order_by(User.printed_name))
                  if u not in present and not u.has_role(ADMIN)]
    return render_template("admin/site_detail.html", site=site, members=present, candidates=candidates,
                           zones=zone_names(), form=FlaskForm())


def _act(site_id: int, action, success: str):
    site = _site_or_404(site_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        action(site)
    except SiteError as exc:
        flash(translate_error(exc), "error")
    else:
        flash(success, "success")
    return redirect(url_for("sites.detail", site_id=site_id))


@bp.post("/<int:site_id>")
@roles_required(ADMIN)
def update(site_id: int):
    return _act(site_id, lambda site: site_acts.update_site(
        services(), db(), audit_context(), current_user.user, site, name=request.form.get("name", ""),
        timezone=request.form.get("timezone", ""), country=request.form.get("country", ""),
        reason=request.form.get("reason", "")), _("Saved."))


def _person() -> User:
    person_id = request.form.get("user_id", type=db_int)
    person = db().get(User, person_id) if person_id is not None else None
    if person is None:
        raise SiteError(N_("Choose a person."))
    return person


@bp.post("/<int:site_id>/members")
@roles_required(ADMIN)
def add_member(site_id: int):
    return _act(site_id, lambda site: site_acts.add_member(
        services(), db(), audit_context(), current_user.user, site, _person(), request.form.get("reason", "")),
        _("Member added."))


@bp.post("/<int:site_id>/members/remove")
@roles_required(ADMIN)
def remove_member(site_id: int):
    return _act(site_id, lambda site: site_acts.remove_member(
        services(), db(), audit_context(), current_user.user, site, _person(), request.form.get("reason", "")),
        _("Member removed."))
