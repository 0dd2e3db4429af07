"""Case pages: list, open a case, its checklist, deadlines, dates and questions; the deadline dashboard."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import select

from edms.application import case_deadlines, cases, deadline_board
from edms.application.case_page_state import CasePageState, case_page_digest, case_page_state, clock_face
from edms.application.case_picture import CasePicture, case_picture
from edms.application.case_picture import timeline as picture_timeline
from edms.cases import models as cm
from edms.cases.attachable import attachable_documents, document_by_number
from edms.cases.errors import CaseError
from edms.cases.facts import CASE_OPENERS, CaseFacts
from edms.cases.queries import case_documents, case_status
from edms.cases.regimes import CASE_DATES
from edms.errors import N_
from edms.paging import BadCursor
from edms.sites.models import Site
from edms.sites.queries import all_sites
from edms.timeutil import parse_local, utc_now, zone_names
from edms.users.models import User
from edms.users.roles import CONTENT_ROLES, PHYSICIAN, QA, REGULATORY
from edms.web.bounds import db_int
from edms.web.case_picture_svg import flow_svg, timeline_svg
from edms.web.guards import roles_required
from edms.web.i18n import translate_error
from edms.web.paging import next_page_args, page_of, page_size
from edms.web.record_cache import cache_key, kept_page, kept_parts, render_parts
from edms.web.runtime import audit_context, db, services
from edms.web.scope import page_state, reads_its_state
from edms.workflow.visibility import visible_cases

bp = Blueprint("cases", __name__, url_prefix="/cases")


def _language() -> str:
    return str(get_locale() or "en")


def _case_or_404(case_id: int) -> cm.Case:
    case = db().get(cm.Case, case_id)
    if case is None:
        abort(404)
    return case


@bp.get("/")
@login_required
def index():
    query = select(cm.Case).where(visible_cases(current_user.user))
    if request.args.get("jurisdiction"):
        query = query.where(cm.Case.jurisdiction == request.args["jurisdiction"])
    if request.args.get("lot"):
        query = query.where(cm.Case.lot == request.args["lot"].strip())
    page = page_of(query, [cm.Case.id])
    due = case_deadlines.next_deadlines(services(), db(), page.items, utc_now())
    return render_template("cases/index.html", cases=page.items, regimes=services().regimes, language=_language(),
                           due=due, next_page=next_page_args(page, "jurisdiction", "lot"))


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*CASE_OPENERS)
def create():
    form = FlaskForm()
    physicians = [u for u in db().scalars(select(User).where(User.active.is_(True)).order_by(User.printed_name))
                  if u.has_role(PHYSICIAN)]
    values = request.form if request.method == "POST" else {}
    sites = all_sites(db())
    if request.method == "POST" and form.validate_on_submit():
        site_id = request.form.get("site_id", type=db_int)
        site = db().get(Site, site_id) if site_id is not None else None
        # The site's zone reads the detection time; a form naming the site only by its name and zone is
        # still read (scripts written before sites were records).
        zone = site.timezone if site is not None else request.form.get("site_timezone", "UTC")
        detected = parse_local(request.form.get("oos_detected_at", ""), zone) if zone in zone_names() else None
        physician = request.form.get("physician_id", type=db_int)
        if detected is None:
            flash(_("Give the date and time the OOS result was detected."), "error")
        else:
            try:
                case = cases.open_case(services(), db(), audit_context(), current_user.user, CaseFacts(
                    regime_key=request.form.get("regime_key", ""), product=request.form.get("product", ""),
                    lot=request.form.get("lot", ""), patient_ref=request.form.get("patient_ref", ""),
                    site_id=site_id, treating_site=request.form.get("treating_site", ""),
                    site_timezone=request.form.get("site_timezone", ""),
                    physician_id=physician, oos_detected_at=detected))
            except CaseError as exc:
                flash(translate_error(exc), "error")
            else:
                flash(_("Case %(reference)s opened.", reference=case.reference), "success")
                return redirect(url_for("cases.detail", case_id=case.id))
    return render_template("cases/new.html", form=form, regimes=services().regimes, physicians=physicians,
                           sites=sites, values=values, language=_language())


CASE_PARTS = ("head", "flow", "checklist", "retention", "dates")


def _scoped_case(session, view_args) -> tuple[int | None, str | None, CasePageState | None]:
    state = case_page_state(session, view_args["case_id"])
    return view_args["case_id"], None if state is None else state.site_zone, state


reads_its_state("cases.detail", _scoped_case)  # the case scope reads the page's state (one statement fewer)


@bp.get("/<int:case_id>")
@login_required
def detail(case_id: int):
    """A case's page, kept whole (edms.web.record_cache.kept_page) per exact state of the case
    (edms.application.case_page_state: one Core statement), reader (id, names, roles, language, zone), minute
    and what its deadlines read at this request's moment (`clock_face`: stated per request from the same state),
    its CSRF token put back per request. A miss renders around the parts that depend only on the case's state,
    kept per state, language, zone and roles."""
    state = page_state(lambda: case_page_state(db(), case_id))
    if state is None:
        abort(404)
    language, types, regime = _language(), services().document_types, services().regimes[state.regime_key]
    now = utc_now()
    deadlines, blockers = state.deadlines(types, regime, now)
    minute = now.replace(second=0, microsecond=0)  # the time line is drawn at the minute it shows
    roles = tuple(sorted(current_user.roles))
    # The kept parts show the reader's roles (links to create or attach records, to change the physician) and
    # times in the case's zone; the reader's own zone is in the key too, as everything else the shell might show.
    parts_key = cache_key("case", state.digest, language, current_user.timezone, roles)
    page_key = cache_key("case page", parts_key, request.endpoint, current_user.id, current_user.username,
                         current_user.printed_name, roles, minute, clock_face(deadlines, blockers))

    def render_parts_of_state() -> dict[str, Markup]:
        case = _case_or_404(case_id)
        status = case_status(db(), case, types, services().regimes, now)
        documents = case_documents(db(), case)
        physician = db().get(User, case.physician_id) if case.physician_id else None
        picture = case_picture(db(), case, status, document_types=types, now=now, documents=documents)
        return render_parts("cases/_case.html", CASE_PARTS, dict(
            case=case, status=status, documents=documents, physician=physician, types=types,
            picture_flow=flow_svg(picture, language), case_dates=CASE_DATES, language=language,
            current_dates=case.current_dates()))

    def render_page() -> str:
        kept = kept_parts(parts_key, stamp=lambda: case_page_digest(db(), case_id), stamped=state.digest,
                          keep=True, render=render_parts_of_state)
        timeline = CasePicture(reference=state.reference, now=minute, site_zone=state.site_zone, nodes=(),
                               marks=picture_timeline(deadlines))
        return render_template("cases/detail.html", case=state, kept=kept, regime=regime, deadlines=deadlines,
                               administration_blockers=blockers, picture_timeline=timeline_svg(timeline, language),
                               case_dates=CASE_DATES, language=language)

    return kept_page(page_key, stamp=lambda: case_page_digest(db(), case_id), stamped=state.digest, keep=True,
                     render=render_page)


def _act(case_id: int, action, success: str):
    """Run one case use case from a form: confirm it, or say why it was refused."""
    case = _case_or_404(case_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        action(case)
    except CaseError as exc:
        flash(translate_error(exc), "error")
    else:
        flash(success, "success")
    return redirect(url_for("cases.detail", case_id=case_id))


@bp.post("/<int:case_id>/dates")
@roles_required(*CONTENT_ROLES)
def record_date(case_id: int):
    def action(case):
        value = parse_local(request.form.get("value", ""), case.site_timezone)
        if value is None:
            raise CaseError(N_("Give a date and time."))
        cases.record_date(services(), db(), audit_context(), current_user.user, case, request.form.get("key", ""),
                          value, request.form.get("reason"))

    return _act(case_id, action, _("Date recorded."))


@bp.post("/<int:case_id>/answers")
@roles_required(*CONTENT_ROLES)
def answer(case_id: int):
    return _act(case_id, lambda case: cases.answer_question(
        services(), db(), audit_context(), current_user.user, case, request.form.get("key", ""),
        request.form.get("answer") == "yes", request.form.get("reason"),
    ), _("Answer recorded."))


@bp.post("/<int:case_id>/status")
@roles_required(QA, REGULATORY)
def change_status(case_id: int):
    return _act(case_id, lambda case: cases.change_status(
        services(), db(), audit_context(), current_user.user, case, request.form.get("status", ""),
        request.form.get("reason", ""),
    ), _("Case status changed."))


@bp.get("/deadlines")
@roles_required(QA, REGULATORY)
def deadlines():
    """Every open case's deadlines, a page of cases at a time, the most pressing first: for QA and regulatory
    users (edms.application.deadline_board)."""
    size = page_size()
    try:
        page = deadline_board.board_page(db(), types=services().document_types, regimes=services().regimes,
                                         now=utc_now(), cursor=request.args.get("cursor") or None, limit=size)
    except BadCursor as exc:
        abort(400, f"'cursor': {exc}; start again from the first page.")
    return render_template("cases/deadlines.html", rows=[(row.case, row.deadline) for row in page.items],
                           language=_language(), next_page=next_page_args(page))


@bp.route("/<int:case_id>/attach", methods=["GET", "POST"])
@roles_required(*CONTENT_ROLES)
def attach(case_id: int):
    """Attach an existing record written outside any case (same lot and patient), with a reason."""
    case = _case_or_404(case_id)
    form = FlaskForm()
    number, reason = request.form.get("number", "").strip(), request.form.get("reason", "")
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        document = document_by_number(db(), number) if number else None
        if document is None:
            flash(_("No record has the number %(number)s.", number=number or "—"), "error")
        else:
            try:
                cases.attach_record(services(), db(), audit_context(), current_user.user, case, document, reason)
            except CaseError as exc:
                flash(translate_error(exc), "error")
            else:
                flash(_("%(number)s now belongs to case %(case)s.", number=document.number, case=case.reference),
                      "success")
                return redirect(url_for("cases.detail", case_id=case.id))
    candidates = attachable_documents(db(), case, types=services().document_types, regimes=services().regimes)
    return render_template("cases/attach.html", case=case, form=form, candidates=candidates, number=number,
                           reason=reason, types=services().document_types, regime=services().regimes[case.regime_key],
                           language=_language())
