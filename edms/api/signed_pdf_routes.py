"""The JSON API of the signed PDFs: each version's PAdES PDF, its revisions and each signature's validation."""
from __future__ import annotations

from flask import Response, abort, jsonify

from edms.api import schemas as S
from edms.api.blueprint import bp, token_required
from edms.api.openapi import operation
from edms.application import signed_pdfs
from edms.documents import queries
from edms.timeutil import isoformat_utc
from edms.web.runtime import db, services

_READ = {"200": "OK", "401": "No valid token", "404": "No such document or version, or the version has no signed PDF"}


def _version_or_404(document_id: int, number: int):
    document = queries.get_document(db(), document_id)
    version = None if document is None else document.version(number)
    if document is None or version is None:
        abort(404, description=f"No version {number} of document #{document_id}.")
    return document, version


@bp.get("/documents/<int:document_id>/versions/<int:number>/signed-pdf")
@operation("The version's signed PDF (PAdES): its revisions and each signature's validation by pyHanko with the "
           "organisation's root as the trust anchor, made at checked_at (kept for a few minutes)",
           responses=_READ, schemas={"200": S.SIGNED_PDF})
@token_required()
def signed_pdf_validation(document_id: int, number: int):
    document, version = _version_or_404(document_id, number)
    view = signed_pdfs.validation(services(), db(), version)
    if view is None:
        abort(404, description=f"{document.number} version {number} has no signed PDF.")
    return jsonify({
        "document_id": document.id, "number": document.number, "version": version.version, "size": view.size,
        "checked_at": isoformat_utc(view.checked_at),
        "revisions": [{"revision": r.revision, "kind": r.kind, "length": r.length, "sha256": r.sha256,
                       "signature_id": r.signature_id, "created_at": isoformat_utc(r.created_at)}
                      for r in view.revisions],
        "signatures": [{"field": c.field, "kind": c.kind, "signer": c.signer, "ok": c.ok, "intact": c.intact,
                        "trusted": c.trusted, "timestamp": isoformat_utc(c.timestamp) if c.timestamp else None,
                        "ltv": c.ltv, "modifications_ok": c.modifications_ok, "summary": c.summary}
                       for c in view.checks],
    })


@bp.get("/documents/<int:document_id>/versions/<int:number>/signed.pdf")
@operation("The version's signed PDF (PAdES) as it is now; X-Content-SHA256 gives its newest revision's hash",
           responses=_READ, media_types={"200": "application/pdf"})
@token_required()
def signed_pdf_download(document_id: int, number: int):
    document, version = _version_or_404(document_id, number)
    view = signed_pdfs.validation_revisions(services(), db(), version)
    data = signed_pdfs.download(services(), db(), version)
    if data is None or not view:
        abort(404, description=f"{document.number} version {number} has no signed PDF.")
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{document.number}-v{version.version}-signed.pdf"',
        "X-Content-SHA256": view[-1].sha256})
