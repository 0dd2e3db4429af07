"""Document pages: list, create, edit drafts, attachments, submit, revise, withdraw, history, diff, renditions."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import select

from edms.application import drafting, renditions, signed_pdfs
from edms.cases.models import Case
from edms.documents import models as m
from edms.documents.errors import DocumentError, ValidationFailed
from edms.documents.presentation import display_value
from edms.documents.queries import diff_versions, get_document, may_write, values_of
from edms.documents.renditions import render_docx, render_pdf
from edms.inspection.labels import object_names
from edms.signatures.record_state import RecordState, VersionState, record_state, trust_digest
from edms.users.models import User
from edms.users.roles import CONTENT_ROLES
from edms.web.bounds import db_int, query_int
from edms.web.guards import roles_required
from edms.web.i18n import translate_error
from edms.web.labels import page_labels
from edms.web.paging import next_page_args, page_of
from edms.web.record_cache import cache_key, kept_page, kept_parts, render_parts
from edms.web.requirement_forms import flash_warnings, prefill, record_form, warn
from edms.web.routing_views import blocked_version
from edms.web.runtime import audit_context, db, services
from edms.web.scope import page_state, reads_its_state
from edms.web.signature_views import signing_plan, trust
from edms.workflow.visibility import can_see_case, visible_documents

bp = Blueprint("documents", __name__, url_prefix="/documents")


def _types():
    return services().document_types


def _language() -> str:
    return str(get_locale() or "en")


def _document_or_404(document_id: int) -> m.Document:
    document = get_document(db(), document_id)
    if document is None:
        abort(404)
    return document


def _version_or_404(document: m.Document, number: int) -> m.DocumentVersion:
    version = document.version(number)
    if version is None:
        abort(404)
    return version


def _raw_values(doc_type) -> dict[str, object]:
    """Only the type's fields from the submitted form, lists kept for multi-valued fields; a document_refs
    field is one text box of numbers separated by spaces or commas, so it goes on as that one string."""
    form = request.form.to_dict(flat=False)
    return {f.name: " ".join(form[f"field_{f.name}"]) if f.type == "document_refs" else form[f"field_{f.name}"]
            for f in doc_type.fields if f"field_{f.name}" in form}


def _field_errors(exc: ValidationFailed) -> dict[str, str]:
    return {name: translate_error(error) for name, error in exc.errors.items()}


def form_value(field, value, zone: str):
    """A stored canonical value as an HTML input expects it (date-times in the user's zone)."""
    if value is None:
        return "" if field.type not in ("multichoice", "document_refs") else []
    if field.type == "datetime" and isinstance(value, str) and value.endswith("Z"):
        moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(ZoneInfo(zone))
        return moment.strftime("%Y-%m-%dT%H:%M")
    return value


@bp.app_context_processor
def document_helpers():
    return {"form_value": form_value, "display_value": display_value, "document_types": _types}


@bp.get("/")
@login_required
def index():
    query = select(m.Document).where(visible_documents(current_user.user))
    type_key = request.args.get("type")
    status = request.args.get("status")
    if type_key:
        query = query.where(m.Document.type_key == type_key)
    if status:
        query = query.where(m.Document.status == status)
    page = page_of(query, [m.Document.id])
    return render_template("documents/index.html", documents=page.items, type_key=type_key, status=status,
                           statuses=m.VERSION_STATUSES, next_page=next_page_args(page, "type", "status"))


@bp.route("/new/<type_key>", methods=["GET", "POST"])
@roles_required(*CONTENT_ROLES)
def create(type_key: str):
    doc_type = _types().get(type_key)
    if doc_type is None:
        abort(404)
    case = _case_from_request()
    form = FlaskForm()
    errors: dict[str, str] = {}
    shown = record_form(doc_type, case)
    values: dict[str, object] = prefill(shown, _case_values(doc_type, case))
    title = f"{doc_type.name.text(_language())} · {case.reference}" if case else ""
    if request.method == "POST" and form.validate_on_submit():
        title = request.form.get("title", "")
        values = _raw_values(doc_type)
        warn(shown, values)
        try:
            document = drafting.create_document(services(), db(), audit_context(), current_user.user, type_key,
                                                title=title, raw_values=values, case_id=case.id if case else None)
        except ValidationFailed as exc:
            errors = _field_errors(exc)
            flash(translate_error(exc), "error")
        except DocumentError as exc:
            flash(translate_error(exc), "error")
        else:
            flash(_("Document %(number)s created as a draft.", number=document.number), "success")
            flash_warnings(document)
            return redirect(url_for("documents.detail", document_id=document.id))
    elif request.method == "POST":
        flash(_("The form expired. Please try again."), "error")
    return render_template("documents/edit.html", doc_type=shown.doc_type, form=form, values=values, errors=errors,
                           title_value=title, document=None, raw=True, case=case, requirements=shown.requirements,
                           warnings=shown.warnings)


def _case_from_request():
    """A document created from a case page belongs to that case."""
    case_id = request.values.get("case", type=db_int)
    if case_id is None:
        return None
    case = db().get(Case, case_id)
    if case is None or not can_see_case(db(), current_user.user, case):
        abort(404)
    return case


def _case_values(doc_type, case) -> dict[str, object]:
    """Fields the case already knows (lot, product, patient reference) are filled in for the author."""
    if case is None:
        return {}
    known = {"lot": case.lot, "product": case.product, "patient_ref": case.patient_ref}
    return {f.name: known[f.name] for f in doc_type.fields if f.name in known}


@bp.get("/<int:document_id>")
@login_required
def detail(document_id: int):
    return _document_page(document_id, None)


@bp.get("/<int:document_id>/versions/<int:number>")
@login_required
def version(document_id: int, number: int):
    return _document_page(document_id, number)


RECORD_PARTS = ("facts", "content", "signatures", "history")


def _scoped_record(session, view_args) -> tuple[int | None, str | None, RecordState | None]:
    state = record_state(session, view_args["document_id"])
    return (None, None, None) if state is None else (state.case_id, state.case_zone, state)


for _endpoint in ("documents.detail", "documents.version"):  # the case scope reads the page's state (one statement)
    reads_its_state(_endpoint, _scoped_record)


def _document_page(document_id: int, number: int | None):
    """The page of one version (the latest when `number` is None). What depends only on the record's stored
    state comes from edms.web.record_cache; what depends on the reader is decided here, from the state read
    (the ORM objects are loaded only for a version in review, to plan its signing, or for an editable draft)."""
    state = page_state(lambda: record_state(db(), document_id))
    shown = None if state is None else state.latest if number is None else state.version(number)
    if state is None or shown is None:
        abort(404)
    language = _language()
    doc_type = _types()[state.type_key]
    latest = shown.id == state.latest.id
    owner = state.owner_id == current_user.id  # only the owner may write (the account is loaded only for them)
    may_edit = not shown.frozen and latest and state.status != m.WITHDRAWN and owner
    may_revise = latest and shown.frozen and state.status != m.WITHDRAWN and owner \
        and may_write(current_user.user, doc_type, state)
    record_key = cache_key("document", state.digest, trust_digest(trust(state.revoked)), language, current_user.timezone,
                           current_user.is_admin, shown.version)
    # The whole page, when nothing on it is decided at the moment of reading: no signing plan (a version in
    # review), no editable draft. Its key adds the reader (names, roles) and what was decided for them.
    page_key = cache_key("document page", record_key, request.endpoint, current_user.id, current_user.username,
                         current_user.printed_name, tuple(sorted(current_user.roles)), may_revise)
    return kept_page(page_key, stamp=lambda: _digest(document_id), stamped=state.digest,
                     keep=shown.status != m.IN_REVIEW and not may_edit,
                     render=lambda: _render_document_page(state, shown, record_key, doc_type, language, latest,
                                                          may_edit, may_revise))


def _render_document_page(state: RecordState, shown: VersionState, key: bytes, doc_type, language: str,
                          latest: bool, may_edit: bool, may_revise: bool) -> str:
    document_id = state.id
    form = FlaskForm()

    def render() -> dict[str, Markup]:
        document = _document_or_404(document_id)
        version = _version_or_404(document, shown.version)
        return render_parts("documents/_record.html", RECORD_PARTS, dict(
            document=document, version=version, doc_type=doc_type, owner=db().get(User, document.owner_id),
            values=values_of(version), language=language, viewer_zone=current_user.timezone,
            is_admin=current_user.is_admin, may_edit=may_edit, form=form,
            labels=page_labels(object_names(db(), [("case", document.case_id)]))))

    record = kept_parts(key, stamp=lambda: _digest(document_id), stamped=state.digest, keep=not may_edit,
                        render=render)
    plan = blocked = None
    warnings: Mapping[str, object] = {}
    if shown.status == m.IN_REVIEW or may_edit:
        document = _document_or_404(document_id)
        version = _version_or_404(document, shown.version)
        if shown.status == m.IN_REVIEW:  # any other version is refused by the plan, which then shows nothing
            plan = signing_plan(document, version)
            blocked = blocked_version(document) if latest else None
        if may_edit and document.case_id is not None:
            case = db().get(Case, document.case_id)
            warnings = warn(record_form(doc_type, case, document.id), values_of(version))
    return render_template("documents/detail.html", page=state, shown=shown, record=record, plan=plan,
                           blocked=blocked, may_edit=may_edit, may_revise=may_revise, form=form, language=language,
                           requirement_warnings=warnings)


def _digest(document_id: int) -> bytes | None:
    again = record_state(db(), document_id)
    return again.digest if again is not None else None


@bp.route("/<int:document_id>/edit", methods=["GET", "POST"])
@roles_required(*CONTENT_ROLES)
def edit(document_id: int):
    document = _document_or_404(document_id)
    doc_type = _types()[document.type_key]
    draft = document.latest
    form = FlaskForm()
    errors: dict[str, str] = {}
    values = values_of(draft)
    case = db().get(Case, document.case_id) if document.case_id is not None else None
    shown = record_form(doc_type, case, document.id)
    warn(shown, values)
    title = draft.title
    raw = False
    if request.method == "POST" and form.validate_on_submit():
        title = request.form.get("title", "")
        values = _raw_values(doc_type)
        raw = True
        warn(shown, values)
        try:
            drafting.save_draft(services(), db(), audit_context(), current_user.user, document, title=title,
                                raw_values=values)
        except ValidationFailed as exc:
            errors = _field_errors(exc)
            flash(translate_error(exc), "error")
        except DocumentError as exc:
            flash(translate_error(exc), "error")
            return redirect(url_for("documents.detail", document_id=document.id))
        else:
            flash(_("Draft saved."), "success")
            flash_warnings(document)
            return redirect(url_for("documents.detail", document_id=document.id))
    return render_template("documents/edit.html", doc_type=shown.doc_type, form=form, values=values, errors=errors,
                           title_value=title, document=document, raw=raw, case=case, requirements=shown.requirements,
                           warnings=shown.warnings)


def _act(document_id: int, action, success: str):
    document = _document_or_404(document_id)
    if not FlaskForm().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("documents.detail", document_id=document_id))
    try:
        action(document)
    except DocumentError as exc:
        flash(translate_error(exc), "error")  # an upload's refusal stays in the audit trail (Annex 11 §5)
    else:
        flash(success, "success")
    return redirect(url_for("documents.detail", document_id=document_id))


@bp.post("/<int:document_id>/attachments")
@roles_required(*CONTENT_ROLES)
def upload(document_id: int):
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a file to attach."), "error")
        return redirect(url_for("documents.detail", document_id=document_id))
    data = upload.read()
    declared = request.form.get("sha256") or None
    return _act(document_id, lambda d: drafting.attach(
        services(), db(), audit_context(), current_user.user, d, filename=upload.filename, data=data,
        declared_sha256=declared), _("File attached."))


@bp.post("/<int:document_id>/attachments/<int:attachment_id>/remove")
@roles_required(*CONTENT_ROLES)
def remove_attachment(document_id: int, attachment_id: int):
    return _act(document_id, lambda d: drafting.detach(services(), db(), audit_context(), current_user.user, d,
                                                       attachment_id),
                _("Attachment removed from the draft."))


@bp.post("/<int:document_id>/submit")
@roles_required(*CONTENT_ROLES)
def submit(document_id: int):
    return _act(document_id, lambda d: drafting.submit(services(), db(), audit_context(), current_user.user, d),
                _("Submitted for review. This version is now frozen."))


@bp.post("/<int:document_id>/revise")
@roles_required(*CONTENT_ROLES)
def revise(document_id: int):
    reason = request.form.get("reason", "")
    return _act(document_id, lambda d: drafting.revise(services(), db(), audit_context(), current_user.user, d, reason),
                _("A new draft version was created."))


@bp.post("/<int:document_id>/withdraw")
@roles_required(*CONTENT_ROLES)
def withdraw(document_id: int):
    reason = request.form.get("reason", "")
    return _act(document_id, lambda d: drafting.withdraw(services(), db(), audit_context(), current_user.user, d, reason),
                _("The document was withdrawn."))


@bp.get("/<int:document_id>/diff")
@login_required
def diff(document_id: int):
    document = _document_or_404(document_id)
    doc_type = _types()[document.type_key]
    numbers = [v.version for v in document.versions]
    a = query_int("a") or (numbers[-2] if len(numbers) > 1 else numbers[-1])
    b = query_int("b") or numbers[-1]
    old, new = _version_or_404(document, a), _version_or_404(document, b)
    changes = diff_versions(doc_type, old, new, _language())
    return render_template("documents/diff.html", document=document, doc_type=doc_type, old=old, new=new,
                           changes=changes, numbers=numbers)


@bp.get("/<int:document_id>/versions/<int:number>/rendition.<fmt>")
@login_required
def rendition(document_id: int, number: int, fmt: str):
    if fmt not in ("pdf", "docx"):
        abort(404)
    document = _document_or_404(document_id)
    version = _version_or_404(document, number)
    rendition = renditions.rendition(services(), db(), document, version, language=_language(),
                                     display_tz=current_user.timezone)
    data = render_pdf(rendition) if fmt == "pdf" else render_docx(rendition)
    mimetype = "application/pdf" if fmt == "pdf" else \
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    name = f"{document.number}-v{version.version}.{fmt}"
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/<int:document_id>/versions/<int:number>/signed-pdf")
@login_required
def signed_pdf(document_id: int, number: int):
    """The signed PDF (PAdES) of a version and each signature's validation result, made within the last minutes."""
    document = _document_or_404(document_id)
    version = _version_or_404(document, number)
    view = signed_pdfs.validation(services(), db(), version)
    # A field is named "<step>-<n>" in the PDF; people read the step's label ("further-<n>": a field added later).
    steps = {step.name: step.label.text(_language()) for step in _types()[document.type_key].steps}
    fields = {check.field: steps.get(check.field.rsplit("-", 1)[0], _("Added signature field"))
              for check in (view.checks if view else ())}
    return render_template("documents/signed_pdf.html", document=document, version=version, view=view, fields=fields,
                           validation_minutes=signed_pdfs.VALIDATION_KEPT_FOR // timedelta(minutes=1))


@bp.get("/<int:document_id>/versions/<int:number>/signed.pdf")
@login_required
def download_signed_pdf(document_id: int, number: int):
    document = _document_or_404(document_id)
    version = _version_or_404(document, number)
    data = signed_pdfs.download(services(), db(), version)
    if data is None:
        abort(404)
    name = f"{document.number}-v{version.version}-signed.pdf"
    return Response(data, mimetype="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/<int:document_id>/versions/<int:number>/attachments/<int:attachment_id>")
@login_required
def download_attachment(document_id: int, number: int, attachment_id: int):
    document = _document_or_404(document_id)
    version = _version_or_404(document, number)
    attachment = next((a for a in version.all_attachments if a.id == attachment_id), None)
    if attachment is None:
        abort(404)
    data = services().blobs.get(attachment.sha256)
    return Response(data, mimetype=attachment.media_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{_quote(attachment.display_name)}",
        "X-Content-SHA256": attachment.sha256})


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")

