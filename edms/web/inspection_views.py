"""Inspection pages: search, signed-history timelines of a document or a case, packages, verification help.

Read-only by construction: every route is a GET (the guard `enforce_read_only_roles` refuses any other
method to inspectors anyway) but the package export, a POST: it queues a job (edms.application.jobs) that
writes its audit event and a checkpoint and builds the package; the page then follows the job.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_login import current_user

from edms.application import jobs
from edms.audit.search import field_changes
from edms.documents import models as dm
from edms.documents.types import SIGNATURE_MEANINGS
from edms.inspection.labels import event_names, object_names
from edms.inspection.package import CASE, DOCUMENT, ExportError, Scope
from edms.inspection.search import PARAMETERS, SearchError, parse_query, search
from edms.inspection.timeline import HISTORY_KINDS, case_timeline, document_timeline
from edms.users.roles import INSPECTOR, QA, REGULATORY
from edms.verifier.bundle import zipapp_bytes
from edms.web.audit_views import show_value
from edms.web.bounds import query_int
from edms.web.guards import roles_required
from edms.web.history_filter import history_filter, history_params
from edms.web.i18n import translate_error
from edms.web.labels import case_id_named, page_labels
from edms.web.runtime import audit_context, db, services

bp = Blueprint("inspection", __name__, url_prefix="/inspection")

# Inspectors; quality assurance, who hosts inspections; regulatory affairs, who sends packages to authorities.
READERS = (INSPECTOR, QA, REGULATORY)


def _language() -> str:
    return str(get_locale() or "en")


def _include_access() -> bool:
    return request.args.get("access") == "1"


@bp.context_processor
def timeline_helpers():
    return {"field_changes": field_changes, "show_value": show_value, "history_kinds": HISTORY_KINDS,
            "history_params": history_params}


@bp.get("/")
@roles_required(*READERS)
def index():
    return redirect(url_for("inspection.search_page"))


@bp.get("/search")
@roles_required(*READERS)
def search_page():
    params = {name: request.args[name] for name in PARAMETERS if request.args.get(name, "").strip()}
    error, results = None, None
    try:
        query = parse_query(request.args, current_user.timezone, case_id_named)
    except SearchError as exc:
        error, query = translate_error(exc), None
    if query is not None and not query.empty:
        results = search(db(), query, before=query_int("before"), reader=current_user.user)
    names = object_names(db(), [("case", hit.document.case_id) for hit in results.hits]) if results else {}
    return render_template("inspection/search.html", params=params, error=error, results=results,
                           labels=page_labels(names),
                           statuses=dm.VERSION_STATUSES, meanings=SIGNATURE_MEANINGS, language=_language())


def _timeline_names(timeline, case_id: int | None) -> dict[tuple[str, str], str]:
    events = [entry.event for entry in timeline.entries if entry.event is not None]
    return {**event_names(db(), events), **object_names(db(), [("case", case_id)])}


@bp.get("/documents/<int:document_id>")
@roles_required(*READERS)
def document_history(document_id: int):
    document = db().get(dm.Document, document_id)
    if document is None:
        abort(404)
    timeline = document_timeline(db(), document, services().trust(db()), services().document_types,
                                 include_access=_include_access(), history=history_filter())
    return render_template("inspection/timeline.html", timeline=timeline, document=document, case_id=document.case_id,
                           labels=page_labels(_timeline_names(timeline, document.case_id)),
                           include_access=_include_access(), language=_language(),
                           export_url=url_for("inspection.export_document", document_id=document.id))


@bp.get("/cases/<int:case_id>")
@roles_required(*READERS)
def case_history(case_id: int):
    timeline = case_timeline(db(), case_id, services().trust(db()), services().document_types,
                             include_access=_include_access(), history=history_filter())
    if not timeline.documents and not timeline.entries:
        abort(404)
    return render_template("inspection/timeline.html", timeline=timeline, document=None, case_id=case_id,
                           labels=page_labels(_timeline_names(timeline, case_id)),
                           include_access=_include_access(), language=_language(),
                           export_url=url_for("inspection.export_case", case_id=case_id))


def _export(scope: Scope, back: str):
    """Queue the package and go to its job's page at once: the worker builds it (never this request)."""
    try:
        job = jobs.request_export(services(), db(), audit_context(), current_user.user, scope, language=_language(),
                                  display_tz=current_user.timezone)
    except ExportError as exc:
        flash(translate_error(exc), "error")
        return redirect(back)
    return redirect(url_for("jobs.detail", job_id=job.id))


@bp.post("/documents/<int:document_id>/export")
@roles_required(*READERS)
def export_document(document_id: int):
    return _export(Scope(DOCUMENT, document_id), url_for("inspection.document_history", document_id=document_id))


@bp.post("/cases/<int:case_id>/export")
@roles_required(*READERS)
def export_case(case_id: int):
    return _export(Scope(CASE, case_id), url_for("inspection.case_history", case_id=case_id))


@bp.get("/verify")
@roles_required(*READERS)
def verify_help():
    return render_template("inspection/verify.html")


@bp.get("/edms_verify.pyz")
@roles_required(*READERS)
def verifier_script():
    return Response(zipapp_bytes(), mimetype="application/zip",
                    headers={"Content-Disposition": 'attachment; filename="edms_verify.pyz"'})
