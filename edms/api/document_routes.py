"""Controlled documents over the API: the same operations as the document pages, answered in JSON."""
from __future__ import annotations

import threading
from urllib.parse import quote

from flask import Response, abort, current_app, g, jsonify, request, url_for

from edms.api import schemas as S
from edms.api.blueprint import bp, json_body, read_along, token_required
from edms.api.openapi import listing, operation
from edms.application import drafting, renditions
from edms.cases.models import Case
from edms.documents import models as m
from edms.documents import queries
from edms.documents.errors import DocumentError, ReasonRequired, ValidationFailed
from edms.documents.renditions import render_docx, render_pdf
from edms.documents.types import LANGUAGES, DocumentType, FieldDef, FieldError, LocalizedText
from edms.timeutil import isoformat_utc
from edms.users.roles import CONTENT_ROLES
from edms.web.bounds import query_int
from edms.web.errors import api_error
from edms.web.runtime import audit_context, db, services
from edms.workflow.visibility import can_see_case

# The kind of refusal (DocumentError.code) decides the status; the message and details explain it.
STATUS = {"forbidden": 403, "conflict": 409}

RENDITION_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


@bp.errorhandler(DocumentError)
def refused(exc: DocumentError):
    details: dict[str, str] = dict(exc.errors) if isinstance(exc, ValidationFailed) else {}
    if isinstance(exc, ReasonRequired):
        details = {"reason": str(exc)}
    return api_error(STATUS.get(exc.code, 400), exc.code, str(exc), details)


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed({field: FieldError(message)})


# --- serialisation ------------------------------------------------------------------------------------


def _text(text: LocalizedText | None) -> dict[str, str] | None:
    return None if text is None else {"en": text.en, "ja": text.ja}


def _time(value) -> str | None:
    return None if value is None else isoformat_utc(value)


def _field_json(field: FieldDef) -> dict:
    return {
        "name": field.name,
        "type": field.type,
        "required": field.required,
        "label": _text(field.label),
        "help": _text(field.help),
        "max_length": field.max_length,
        "pattern": field.pattern.pattern if field.pattern else None,
        "example": field.example,
        "min": None if field.minimum is None else str(field.minimum),
        "max": None if field.maximum is None else str(field.maximum),
        "unit": field.unit,
        "choices": [{"value": choice.value, "label": _text(choice.label)} for choice in field.choices],
        "ref_types": list(field.ref_types),
        "safety": field.safety,
    }


def _type_json(doc_type: DocumentType) -> dict:
    return {
        "key": doc_type.key,
        "name": _text(doc_type.name),
        "description": _text(doc_type.description),
        "numbering": doc_type.numbering,
        "number_pattern": doc_type.number_pattern.pattern,
        "source_sha256": doc_type.source_sha256,
        "fields": [_field_json(field) for field in doc_type.fields],
        "steps": [
            {"name": step.name, "roles": list(step.roles), "meaning": step.meaning, "label": _text(step.label),
             "approvals": step.approvals, "allow_same_signer": step.allow_same_signer, "after": list(step.after),
             "signer": step.signer}
            for step in doc_type.steps
        ],
    }


def _attachment_json(document: m.Document, version: m.DocumentVersion, attachment: m.Attachment) -> dict:
    return {
        "id": attachment.id,
        "name": attachment.display_name,
        "media_type": attachment.media_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "added_by": attachment.added_by,
        "added_at": _time(attachment.added_at),
        "url": url_for("api.document_attachment", document_id=document.id, number=version.version,
                       attachment_id=attachment.id),
    }


def _version_summary(version: m.DocumentVersion) -> dict:
    return {
        "version": version.version,
        "status": version.status,
        "title": version.title,
        "reason": version.reason,
        "content_sha256": version.content_sha256,
        "created_by": version.created_by,
        "created_at": _time(version.created_at),
        "frozen_at": _time(version.frozen_at),
        "status_changed_at": _time(version.status_changed_at),
    }


def _version_json(document: m.Document, version: m.DocumentVersion) -> dict:
    return {
        "document_id": document.id,
        "number": document.number,
        "type": document.type_key,
        **_version_summary(version),
        "updated_at": _time(version.updated_at),
        "values": queries.values_of(version),
        "attachments": [_attachment_json(document, version, a) for a in version.attachments],
    }


def _document_json(document: m.Document) -> dict:
    return {
        "id": document.id,
        "number": document.number,
        "type": document.type_key,
        "title": document.title,
        "status": document.status,
        "owner_id": document.owner_id,
        "case_id": document.case_id,
        "created_at": _time(document.created_at),
        "current_version": document.current_version,
        "versions": [_version_summary(version) for version in document.versions],
    }


def _summary_json(rows) -> dict:
    """`_document_json` of the document `queries.document_summary_rows` read: the same JSON, from plain rows."""
    document = rows[0]
    return {
        "id": document.id,
        "number": document.number,
        "type": document.type_key,
        "title": document.title,
        "status": document.status,
        "owner_id": document.owner_id,
        "case_id": document.case_id,
        "created_at": _time(document.created_at),
        "current_version": document.current_version,
        "versions": [{
            "version": row.v_version,
            "status": row.v_status,
            "title": row.v_title,
            "reason": row.v_reason,
            "content_sha256": row.v_content_sha256,
            "created_by": row.v_created_by,
            "created_at": _time(row.v_created_at),
            "frozen_at": _time(row.v_frozen_at),
            "status_changed_at": _time(row.v_status_changed_at),
        } for row in rows if row.v_version is not None],
    }


# --- lookups ------------------------------------------------------------------------------------------


def _document_or_404(document_id: int) -> m.Document:
    document = queries.get_document(db(), document_id)
    if document is None:
        abort(404, description=f"No document #{document_id}.")
    return document


def _version_or_404(document: m.Document, number: int) -> m.DocumentVersion:
    version = document.version(number)
    if version is None:
        abort(404, description=f"{document.number} has no version {number}.")
    return version


def _values(body: dict) -> dict:
    values = body.get("values")
    if not isinstance(values, dict):
        raise _invalid("values", "Give the field values as a JSON object.")
    return values


def _language() -> str:
    language = request.args.get("lang") or g.api_user.language
    return language if language in LANGUAGES else "en"


# --- routes -------------------------------------------------------------------------------------------

_LANG = {"name": "lang", "in": "query", "schema": {"enum": list(LANGUAGES)},
         "description": "language of labels (default: the caller's language)"}
_READ = {"200": "OK", "401": "No valid token", "404": "No such document or version"}
_WRITE = {"401": "No valid token", "403": "Not allowed (inspectors and administrators never write)",
          "404": "No such document", "409": "Not in this state (frozen, withdrawn)"}


@bp.get("/document-types")
@operation("Controlled document types: fields with English and Japanese labels, numbering, signature steps",
           schemas=listing(S.DOCUMENT_TYPE))
@token_required()
def document_types():
    return jsonify({"items": [_type_json(doc_type) for doc_type in services().document_types.values()]})


@bp.post("/documents")
@operation(
    "Create a document as a draft version 1 (numbered from the type's sequence)",
    body={"type": "object", "required": ["type", "title", "values"],
          "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "values": {"type": "object"},
                         "case_id": {"type": "integer", "description": "The case the record belongs to"}}},
    responses={"201": "Created: id and number", "400": "validation_failed: details name each field; nothing was stored",
               **_WRITE},
    schemas={"201": S.DOCUMENT},
)
@token_required(*CONTENT_ROLES)
def create_document():
    body = json_body()
    type_key = body.get("type")
    doc_type = services().document_types.get(type_key) if isinstance(type_key, str) else None
    if doc_type is None:
        known = ", ".join(services().document_types)
        raise _invalid("type", f"Unknown document type {type_key!r} (expected one of {known}).")
    case_id = body.get("case_id")
    if case_id is not None and (not isinstance(case_id, int) or isinstance(case_id, bool)
                                or db().get(Case, case_id) is None or not can_see_case(db(), g.api_user, case_id)):
        raise _invalid("case_id", f"No case has the id {case_id!r}.")
    document = drafting.create_document(services(), db(), audit_context(), g.api_user, doc_type.key,
                                        title=body.get("title"), raw_values=_values(body), case_id=case_id)
    return jsonify(_document_json(document)), 201, {"Location": url_for("api.get_document", document_id=document.id)}


@bp.get("/documents/<int:document_id>")
@operation("A document, its status and its versions", responses=_READ, schemas={"200": S.DOCUMENT})
@token_required(reader=True, along=lambda session, token, view_args: queries.document_summary_with_caller(
    session, token, view_args["document_id"]))
def get_document(document_id: int):
    rows = read_along()  # read with the caller in one Core statement: the document, its versions
    if rows is None:
        abort(404, description=f"No document #{document_id}.")
    return _summary_response(rows)


KEPT_BODIES = 1024  # per app: a summary is ~1-2 kB, so at most ~2 MB
_BODIES = "edms.api.document_summaries"


def _summary_response(rows) -> Response:
    """`jsonify(_summary_json(rows))`, its body kept per exact rows: the key is every column of every row the
    statement read (the document's state, each version's, and the caller's columns), and the body is a function
    of those values alone, so a change to any of them is another key. Kept per app (whose JSON settings make the
    body), the oldest dropped past `KEPT_BODIES`."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    kept: dict[tuple, bytes] | None = app.extensions.get(_BODIES)
    if kept is None:
        kept = app.extensions.setdefault(_BODIES, {})
    key = tuple(rows)
    body = kept.get(key)
    if body is None:
        body = jsonify(_summary_json(rows)).get_data()
        with _KEEPING:
            while len(kept) >= KEPT_BODIES:
                kept.pop(next(iter(kept)))
            kept[key] = body
    return app.response_class(body, mimetype=app.json.mimetype)


_KEEPING = threading.Lock()


@bp.put("/documents/<int:document_id>")
@operation(
    "Edit the draft; if the latest version is frozen, create a new version with these values (a reason is then required)",
    body={"type": "object", "required": ["values"],
          "properties": {"title": {"type": "string"}, "values": {"type": "object"},
                         "reason": {"type": "string", "description": "required when a new version is created"}}},
    responses={"200": "Draft saved", "201": "New version created",
               "400": "validation_failed or reason_required: nothing was changed", **_WRITE},
    schemas={"200": S.VERSION, "201": S.VERSION},
)
@token_required(*CONTENT_ROLES)
def update_document(document_id: int):
    document = _document_or_404(document_id)
    body = json_body()
    draft, created = drafting.edit(services(), db(), audit_context(), g.api_user, document,
                                   title=body.get("title", document.latest.title), raw_values=_values(body),
                                   reason=body.get("reason") or "")
    return jsonify(_version_json(document, draft)), 201 if created else 200


@bp.post("/documents/<int:document_id>/submit")
@operation(
    "Submit the draft for review: the version is frozen for ever with its content hash; a case record that "
    "could never satisfy its case's gate is refused (requirement_not_met, audited; details name each field)",
    responses={"200": "Submitted", "400": "requirement_not_met: nothing was submitted", **_WRITE,
               "409": "Not in this state (frozen, withdrawn), or not_completable: nobody active and ready now could "
               "sign one of its steps (the details say which, who and what would unblock it)"},
    schemas={"200": S.VERSION},
)
@token_required(*CONTENT_ROLES)
def submit_document(document_id: int):
    document = _document_or_404(document_id)
    version = drafting.submit(services(), db(), audit_context(), g.api_user, document)
    return jsonify(_version_json(document, version))


@bp.post("/documents/<int:document_id>/withdraw")
@operation(
    "Withdraw the document (owner or QA); nothing is deleted",
    body={"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string"}}},
    responses={"200": "Withdrawn", "400": "reason_required", **_WRITE}, schemas={"200": S.DOCUMENT},
)
@token_required(*CONTENT_ROLES)
def withdraw_document(document_id: int):
    document = _document_or_404(document_id)
    drafting.withdraw(services(), db(), audit_context(), g.api_user, document, json_body().get("reason") or "")
    return jsonify(_document_json(document))


@bp.get("/documents/<int:document_id>/versions")
@operation("Every version, earliest first, with status, reason and content hash", responses=_READ,
           schemas=listing(S.VERSION_SUMMARY))
@token_required()
def list_versions(document_id: int):
    document = _document_or_404(document_id)
    return jsonify({"items": [_version_summary(version) for version in document.versions]})


@bp.get("/documents/<int:document_id>/versions/<int:number>")
@operation("One version: values, status, content hash, attachments with their SHA-256", responses=_READ,
           schemas={"200": S.VERSION})
@token_required()
def get_version(document_id: int, number: int):
    document = _document_or_404(document_id)
    return jsonify(_version_json(document, _version_or_404(document, number)))


@bp.get("/documents/<int:document_id>/diff")
@operation("Field-by-field differences between two versions (default: the last two)", parameters=[_LANG,
                {"name": "a", "in": "query", "schema": {"type": "integer"}, "description": "from version"},
                {"name": "b", "in": "query", "schema": {"type": "integer"}, "description": "to version"}], responses=_READ,
           schemas={"200": S.DIFF})
@token_required()
def diff_versions(document_id: int):
    document = _document_or_404(document_id)
    numbers = [version.version for version in document.versions]
    old = _version_or_404(document, query_int("a") or numbers[max(len(numbers) - 2, 0)])
    new = _version_or_404(document, query_int("b") or numbers[-1])
    changes = queries.diff_versions(services().document_types[document.type_key], old, new, _language())
    return jsonify({
        "a": old.version, "b": new.version, "reason": new.reason,
        "changes": [{"field": c.name, "label": c.label, "old": c.old, "new": c.new} for c in changes],
    })


@bp.get("/documents/<int:document_id>/versions/<int:number>/rendition.<fmt>")
@operation("A PDF or DOCX copy of the version, generated from the stored content and stamped with its hash",
           parameters=[_LANG, {"name": "fmt", "in": "path", "schema": {"enum": list(RENDITION_TYPES)}}],
           responses=_READ, media_types={"200": tuple(RENDITION_TYPES.values())})
@token_required()
def rendition(document_id: int, number: int, fmt: str):
    if fmt not in RENDITION_TYPES:
        abort(404, description="Renditions are .pdf or .docx.")
    document = _document_or_404(document_id)
    version = _version_or_404(document, number)
    made = renditions.rendition(services(), db(), document, version, language=_language(),
                                display_tz=g.api_user.timezone)
    data = render_pdf(made) if fmt == "pdf" else render_docx(made)
    name = f"{document.number}-v{version.version}.{fmt}"
    return Response(data, mimetype=RENDITION_TYPES[fmt], headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.post("/documents/<int:document_id>/attachments")
@operation(
    "Attach a file to the draft; a declared SHA-256 that differs from the received bytes is refused (Annex 11 §5)",
    body_type="multipart/form-data",
    body={"type": "object", "required": ["file"],
          "properties": {"file": {"type": "string", "format": "binary"},
                         "sha256": {"type": "string", "description": "SHA-256 of the file as sent (hex)"}}},
    responses={"201": "Attached", "400": "upload_refused (type, size, macros, archive, hash) or validation_failed",
               "413": "Larger than the request limit", **_WRITE},
    schemas={"201": S.ATTACHMENT},
)
@token_required(*CONTENT_ROLES)
def add_attachment(document_id: int):
    document = _document_or_404(document_id)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise _invalid("file", "Send the file as multipart/form-data in the part named 'file'.")
    attachment = drafting.attach(services(), db(), audit_context(), g.api_user, document, filename=upload.filename,
                                 data=upload.read(), declared_sha256=request.form.get("sha256") or None)
    return jsonify(_attachment_json(document, document.latest, attachment)), 201


@bp.get("/documents/<int:document_id>/versions/<int:number>/attachments/<int:attachment_id>")
@operation("The attachment's bytes, re-hashed on the way out; X-Content-SHA256 gives the stored hash",
           responses=_READ, media_types={"200": "application/octet-stream"})
@token_required()
def document_attachment(document_id: int, number: int, attachment_id: int):
    document = _document_or_404(document_id)
    version = _version_or_404(document, number)
    attachment = next((a for a in version.all_attachments if a.id == attachment_id), None)
    if attachment is None:
        abort(404, description=f"{document.number} version {number} has no attachment #{attachment_id}.")
    # The stored name is only ever a display name, sent percent-encoded (RFC 6266).
    return Response(services().blobs.get(attachment.sha256), mimetype=attachment.media_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(attachment.display_name, safe='')}",
        "X-Content-SHA256": attachment.sha256,
    })

