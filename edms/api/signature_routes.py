"""Signatures over the API: sign, refuse, read with full evidence, and the organisation's public PKI.

The same operations as the pages. Credentials are always in the body, even with a bearer token, and
they must be the token owner's: a token alone never signs (21 CFR 11.200(a)(1)). Both components are
required for every signature, since an API call is not a continuous session.
"""
from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives.serialization import Encoding
from flask import Response, g, jsonify, request
from sqlalchemy import select

from edms.api import schemas as S
from edms.api.blueprint import bp, json_body, token_required
from edms.api.openapi import listing, operation
from edms.application import signing
from edms.crypto.cms import signature_value
from edms.crypto.tsa import TimestampError, token_from_response
from edms.documents import models as dm
from edms.pki.store import ROOT, SIGNING_CA, TSA, PkiError, PkiStore
from edms.signatures import keys, presentation
from edms.signatures.ceremony import Credentials
from edms.signatures.errors import NotReady, SigningFailed
from edms.signatures.models import Signature, SigningCredential
from edms.web.errors import api_error
from edms.web.runtime import audit_context, db, services, settings
from edms.workflow.refusals import SigningRefused

CREDENTIALS_SCHEMA = {
    "username": {"type": "string", "description": "the token owner's user name"},
    "password": {"type": "string", "description": "the token owner's password"},
    "totp": {"type": "string", "description": "one-time code, for roles listed in totp_roles"},
}
SIGNATURE_RESPONSES = {
    "201": "Signed: {signature, version_status, document_status}",
    "400": "Invalid request",
    "401": "No valid token, or wrong credentials (counted towards lockout)",
    "403": "Not allowed to sign this step, or not ready (identity, policy, training, second factor)",
    "404": "No such document version",
    "409": "Not the step due, not in review, or superseded",
    "503": "No time-stamp or PKI available: nothing was signed",
}


def _version(document_id: int, number: int) -> tuple[dm.Document, dm.DocumentVersion] | None:
    document = db().get(dm.Document, document_id)
    version = document.version(number) if document is not None else None
    return None if document is None or version is None else (document, version)


def _credentials(body: dict) -> Credentials | None:
    username, password, code = body.get("username"), body.get("password"), body.get("totp")
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        return None
    if code is not None and not isinstance(code, str):
        return None
    return Credentials(password=password, username=username, totp_code=code)


def _refused(exc: SigningRefused | SigningFailed):
    details = {"missing": [gate.code for gate in exc.missing]} if isinstance(exc, NotReady) else {}
    return api_error(exc.http_status, exc.code, str(exc), details)


def _act(document_id: int, number: int, kind: str):
    found = _version(document_id, number)
    if found is None:
        return api_error(404, "not_found", "No such document version.")
    document, version = found
    body = json_body()
    credentials = _credentials(body)
    text_fields = ("reason",) if kind == "reject" else ("comment", "step", "meaning")
    if credentials is None or any(body.get(name) is not None and not isinstance(body.get(name), str) for name in text_fields):
        return api_error(400, "invalid_request", "Give 'username' and 'password' (the token owner's) as strings.",
                         {"username": "required", "password": "required"})
    doc_type = services().document_types[document.type_key]
    session = db()
    try:
        if kind == "reject":
            made = signing.refuse(services(), session, audit_context(), g.api_user, document, version, credentials,
                                  reason=body.get("reason") or "", step=body.get("step") or None)
        else:
            made = signing.sign(services(), session, audit_context(), g.api_user, document, version, credentials,
                                step=body.get("step") or None, meaning=body.get("meaning") or None,
                                comment=body.get("comment"))
    except (SigningRefused, SigningFailed) as exc:
        return _refused(exc)
    item = presentation.manifestation(session, made, services().trust(session), doc_type)
    return jsonify({"signature": presentation.manifestation_json(item), "version_status": version.status,
                    "document_status": document.status}), 201


@bp.post("/documents/<int:document_id>/versions/<int:number>/signatures")
@operation(
    "Sign the step due on this version (by `meaning` or `step`; default: the step due) with an optional "
    "`comment`. The last step approves the version.",
    body={"type": "object", "required": ["username", "password"], "properties": {
        "meaning": {"type": "string"}, "step": {"type": "string"}, "comment": {"type": "string"},
        **CREDENTIALS_SCHEMA}},
    responses=SIGNATURE_RESPONSES, schemas={"201": S.SIGNED},
)
@token_required()
def create_signature(document_id: int, number: int):
    return _act(document_id, number, "sign")


@bp.post("/documents/<int:document_id>/versions/<int:number>/reject")
@operation(
    "Refuse to sign the step due, with a mandatory `reason`: a signed refusal; the version becomes rejected.",
    body={"type": "object", "required": ["reason", "username", "password"], "properties": {
        "reason": {"type": "string"}, "step": {"type": "string"}, **CREDENTIALS_SCHEMA}},
    responses={**SIGNATURE_RESPONSES, "201": "Refused: {signature, version_status, document_status}"},
    schemas={"201": S.SIGNED},
)
@token_required()
def reject_version(document_id: int, number: int):
    return _act(document_id, number, "reject")


@bp.get("/documents/<int:document_id>/versions/<int:number>/signatures")
@operation(
    "The version's signatures (printed name, UTC time, meaning, step, role) with their verification now",
    schemas=listing(S.MANIFESTATION),
    responses={"200": "OK: {items}", "401": "No valid token", "404": "No such document version"},
)
@token_required()
def list_signatures(document_id: int, number: int):
    found = _version(document_id, number)
    if found is None:
        return api_error(404, "not_found", "No such document version.")
    document, version = found
    session = db()
    items = presentation.manifestations(session, version, services().trust(session),
                                        services().document_types.get(document.type_key))
    return jsonify({"items": [presentation.manifestation_json(item) for item in items]})


@bp.get("/signatures/<signature_id>")
@operation(
    "One signature with its evidence: the manifest (exact bytes, base64), the detached CMS, the signature "
    "value, the RFC 3161 response and token, the certificate chain (PEM) and the verification result",
    responses={"200": "OK", "401": "No valid token", "404": "No such signature"},
    schemas={"200": S.SIGNATURE_EVIDENCE},
)
@token_required()
def get_signature(signature_id: str):
    session = db()
    signature = session.scalar(select(Signature).where(Signature.signature_id == signature_id))
    if signature is None:
        return api_error(404, "not_found", "No such signature.")
    document = session.get(dm.Document, signature.document_id)
    doc_type = services().document_types.get(document.type_key) if document else None
    item = presentation.manifestation(session, signature, services().trust(session), doc_type)
    credential = session.get(SigningCredential, signature.credential_id)
    try:
        token = base64.b64encode(token_from_response(signature.timestamp_response)).decode("ascii")
    except TimestampError:
        token = None
    try:
        value = base64.b64encode(signature_value(signature.cms)).decode("ascii")
    except ValueError:
        value = None
    try:
        manifest = json.loads(signature.manifest)
    except ValueError:
        manifest = None
    return jsonify({
        **presentation.manifestation_json(item),
        "document_id": signature.document_id,
        "document_number": document.number if document else None,
        "version": signature.version,
        "manifest": manifest,
        "manifest_base64": base64.b64encode(signature.manifest).decode("ascii"),
        "cms_base64": base64.b64encode(signature.cms).decode("ascii"),
        "signature_value_base64": value,
        "timestamp_response_base64": base64.b64encode(signature.timestamp_response).decode("ascii"),
        "timestamp_token_base64": token,
        "certificate_chain_pem": presentation.chain_pem(credential, settings()).decode("ascii") if credential else None,
    })


# --- the organisation's public PKI: what anyone needs to verify signatures offline ---------------------


PEM = {"200": "application/x-pem-file"}
PEM_RESPONSES = {"200": "PEM certificate", "503": "No PKI"}


def _pem(name: str):
    try:
        cert = PkiStore.for_settings(settings()).certificate(name)
    except PkiError as exc:
        return api_error(503, "pki_unavailable", str(exc))
    return Response(cert.public_bytes(Encoding.PEM), mimetype="application/x-pem-file")


@bp.get("/pki/ca.pem")
@operation("The organisation's root CA certificate (PEM): the trust anchor for signatures and "
           "time-stamps", secured=False, responses=PEM_RESPONSES, media_types=PEM)
def pki_ca():
    return _pem(ROOT)


@bp.get("/pki/signing-ca.pem")
@operation(
    "The signing CA certificate that issues people's certificates (PEM)",
    secured=False,
    responses=PEM_RESPONSES, media_types=PEM,
)
def pki_signing_ca():
    return _pem(SIGNING_CA)


@bp.get("/pki/tsa.pem")
@operation(
    "The internal time-stamping authority's certificate (PEM)",
    secured=False,
    responses=PEM_RESPONSES, media_types=PEM,
)
def pki_tsa():
    return _pem(TSA)


@bp.get("/pki/crl")
@operation(
    "The signing CA's certificate revocation list: DER, or PEM with ?format=pem",
    secured=False,
    responses={"200": "CRL", "503": "No PKI"},
    media_types={"200": ("application/pkix-crl", "application/x-pem-file")},
    parameters=[{"name": "format", "in": "query", "schema": {"enum": ["der", "pem"]}, "description": "der (default) or pem"}],
)
def pki_crl():
    try:
        crl = services().revocation_lists().current(services().signing_authority(), keys.revocations(db()))
    except SigningFailed as exc:
        return api_error(503, "pki_unavailable", str(exc))
    if request.args.get("format") == "pem" or request.accept_mimetypes.best == "application/x-pem-file":
        return Response(crl.public_bytes(Encoding.PEM), mimetype="application/x-pem-file")
    return Response(crl.public_bytes(Encoding.DER), mimetype="application/pkix-crl")

