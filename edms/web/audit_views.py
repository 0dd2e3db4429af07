"""The audit-trail viewer, its exports, verification, checkpoints and periodic reviews (11.10(e), Annex 11 §9)."""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import IntegerField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange

from edms.application import audit_trail
from edms.audit import reviews as review_ops
from edms.audit.checkpoints import CheckpointError
from edms.audit.export import EXPORT_FORMATS, csv_chunks, jsonl_chunks
from edms.audit.integrity import Problem, read_snapshot
from edms.audit.labels import OBJECT_LABELS
from edms.audit.models import AuditCheckpoint, AuditEvent
from edms.audit.search import AuditFilter, FilterError, field_changes, newest_first, parse_filter, stream
from edms.inspection.labels import event_names
from edms.pki import PkiError, trust_anchors
from edms.timeutil import utc_now
from edms.users.queries import find_user
from edms.users.roles import ADMIN, INSPECTOR, QA
from edms.web.bounds import query_int
from edms.web.guards import roles_required
from edms.web.i18n import translate_error
from edms.web.labels import case_id_named, page_labels
from edms.web.refusals import needs_roles, refuse
from edms.web.runtime import audit_context, db, services, settings

bp = Blueprint("audit", __name__, url_prefix="/audit")

VIEWERS = (ADMIN, QA, INSPECTOR)
# Quality assurance verifies as part of its periodic review.
VERIFIERS = (ADMIN, INSPECTOR, QA)
FILTER_PARAMS = ("object_type", "object_id", "document_version", "case_id", "user", "action", "from", "to",
                 "seq_from", "seq_to")
PAGE_SIZE = 50


class ReviewForm(FlaskForm):
    from_seq = IntegerField(_l("First event reviewed (seq)"), validators=[DataRequired(), NumberRange(min=1)])
    to_seq = IntegerField(_l("Last event reviewed (seq)"), validators=[DataRequired(), NumberRange(min=1)])
    outcome = SelectField(_l("Outcome"), validators=[DataRequired()])
    findings = TextAreaField(_l("Findings"), validators=[DataRequired(), Length(max=review_ops.MAX_FINDINGS)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outcome.choices = [(key, _l(label)) for key, label in review_ops.OUTCOMES.items()]


def _user_id(username: str) -> int | None:
    user = find_user(db(), username)
    return user.id if user else None


def _filter() -> AuditFilter:
    return parse_filter(request.args, current_user.timezone, _user_id, case_id_named)


def _filter_params() -> dict[str, str]:
    return {name: request.args[name] for name in FILTER_PARAMS if request.args.get(name, "").strip()}


def _int_arg(name: str) -> int | None:
    return query_int(name)


def show_value(value: Any) -> str:
    """A recorded value for people: nothing shown as an em dash, lists as a list, structures as JSON."""
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return ", ".join(show_value(item) for item in value) or "—"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return str(value)


def problem_text(problem: Problem) -> str:
    message = _(problem.message)
    return f"{problem.table} {problem.key}: {message % problem.params if problem.params else message}"


@bp.get("")
@roles_required(*VIEWERS)
def events():
    error = None
    try:
        flt = _filter()
    except FilterError as exc:
        error, flt = translate_error(exc), None
    page = newest_first(db(), flt, before=_int_arg("before"), after=_int_arg("after"), limit=PAGE_SIZE) if flt else None
    actions = db().scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)).all()
    labels = page_labels(event_names(db(), page.events) if page else None)
    return render_template(
        "audit/events.html", page=page, error=error, params=_filter_params(), actions=actions, labels=labels,
        object_kinds=sorted(OBJECT_LABELS),
        field_changes=field_changes, show_value=show_value, can_verify=current_user.has_role(*VERIFIERS),
    )


@bp.get("/export.<fmt>")
@roles_required(*VIEWERS)
def export(fmt: str):
    """The filtered events, all of them, streamed; the export itself is recorded first."""
    if fmt not in EXPORT_FORMATS:
        abort(404)
    try:
        flt = _filter()
    except FilterError as exc:
        abort(400, translate_error(exc))
    through = audit_trail.start_export(services(), db(), audit_context(), flt, fmt)
    engine, zone = services().engine, current_user.timezone

    def generate():
        with read_snapshot(engine) as connection:
            rows = stream(connection, flt, through_seq=through)
            yield from csv_chunks(rows, zone) if fmt == "csv" else jsonl_chunks(rows)

    stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
    mimetype = "text/csv" if fmt == "csv" else "application/x-ndjson"
    return Response(generate(), mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="audit-trail-{stamp}.{fmt}"',
    })


@bp.get("/verify")
@roles_required(*VERIFIERS)
def verify_page():
    report = None
    if request.args.get("run") == "1":
        try:
            trust = trust_anchors(settings())
        except PkiError as exc:
            flash(str(exc), "error")
            trust = None
        report = audit_trail.verify(services(), db(), audit_context(), trust)
    checkpoints = db().execute(
        select(AuditCheckpoint.number, AuditCheckpoint.seq, AuditCheckpoint.head_hash, AuditCheckpoint.timestamped_at)
        .order_by(AuditCheckpoint.number.desc()).limit(20)
    ).all()
    return render_template("audit/verify.html", report=report, checkpoints=checkpoints, problem_text=problem_text,
                           every=settings().audit_checkpoint_every)


@bp.post("/checkpoints")
@roles_required(ADMIN)
def checkpoint_now():
    try:
        made = audit_trail.checkpoint(services(), db(), audit_context())
    except CheckpointError as exc:
        flash(translate_error(exc), "error")
    except PkiError as exc:
        flash(str(exc), "error")
    else:
        flash(_("Checkpoint #%(number)s signs the chain up to seq %(seq)s.", number=made.number, seq=made.seq), "success")
    return redirect(url_for("audit.verify_page"))


@bp.route("/reviews", methods=["GET", "POST"])
@roles_required(*VIEWERS)
def reviews():
    session = db()
    form = ReviewForm()
    is_reviewer = current_user.has_role(QA)
    if request.method == "POST":
        if not is_reviewer:
            refuse(needs_roles((QA,)))
        if form.validate_on_submit():
            try:
                review = audit_trail.review(
                    services(), session, audit_context(), current_user.user, from_seq=form.from_seq.data,
                    to_seq=form.to_seq.data, outcome=form.outcome.data, findings=form.findings.data,
                )
            except review_ops.ReviewError as exc:
                flash(translate_error(exc), "error")
            else:
                flash(_("Review #%(id)s of seq %(first)s–%(last)s recorded.", id=review.id, first=review.from_seq,
                        last=review.to_seq), "success")
                return redirect(url_for("audit.reviews"))
    elif is_reviewer:
        form.from_seq.data, form.to_seq.data = review_ops.next_range(session)
    return render_template("audit/reviews.html", form=form if is_reviewer else None,
                           reviews=review_ops.list_reviews(session), outcomes=review_ops.OUTCOMES)
