"""The signed PDF of a version, made and extended in the signing ceremony (PAdES baseline B-LTA).

- `freeze_version_pdf` (at submission): the version's rendition as PDF/A-2b in the language and time zone
  of the case's site, with a signature page of empty fields (`edms.documents.renditions.frozen`);
- `sign_version_pdf` (in the ceremony, under the version's lock, with the key the password just opened):
  a PAdES signature in the step's reserved field, or in a new field on the signature page for a refusal
  or an extra signature, then the chain's certificates and CRLs in the DSS (B-LT);
- `timestamp_version_pdf` (when the version reaches its final state): the validation data of the
  time-stamps and a document time-stamp (B-LTA).

Each step appends an incremental update, stored as a new revision (`edms.documents.pdf_models`).
"""
from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.orm import Session

from edms.audit import AuditContext
from edms.cases.models import Case
from edms.crypto import pades
from edms.documents import models as dm
from edms.documents.blobstore import BlobStore
from edms.documents.operations import append_pdf_revision
from edms.documents.pdf_models import DOCUMENT_TIMESTAMP, FROZEN, LEGACY, SIGNATURE, VALIDATION_DATA
from edms.documents.pdf_queries import has_document_timestamp, latest_pdf_revision, signed_pdf
from edms.documents.presentation import build_rendition
from edms.documents.renditions import find_pdf_font
from edms.documents.renditions.frozen import further_field, render_frozen_pdf, signature_page
from edms.documents.renditions.layout import text_for
from edms.documents.types import SIGNATURE_MEANINGS, DocumentType
from edms.errors import N_
from edms.signatures.errors import SigningFailed
from edms.signatures.keys import SigningAuthority, revocation_list, revocations
from edms.signatures.manifest import REJECTION, Manifest
from edms.timeutil import format_in_zone, utc_now

# The states after which a version is never signed again: its PDF then gets its document time-stamp.
FINAL_STATES = (dm.APPROVED, dm.REJECTED, dm.WITHDRAWN, dm.SUPERSEDED)


def pdf_locale(session: Session, document: dm.Document) -> tuple[str, str]:
    """The language and time zone of the record's site: the case's (Japanese for a case in Japan)."""
    case = None if document.case_id is None else session.get(Case, document.case_id)
    if case is None:
        return "en", "UTC"
    return ("ja" if case.jurisdiction.upper() == "JP" else "en"), case.site_timezone


def freeze_version_pdf(session: Session, ctx: AuditContext, blobs: BlobStore, doc_type: DocumentType,
                       document: dm.Document, version: dm.DocumentVersion) -> None:
    """The version's PDF, frozen at submission and stored as revision 0 of its signed PDF."""
    if latest_pdf_revision(session, version) is not None:
        return
    language, zone = pdf_locale(session, document)
    rendition = build_rendition(session, doc_type, document, version, language=language, display_tz=zone)
    data = render_frozen_pdf(rendition, doc_type.steps, version.frozen_at or utc_now())
    append_pdf_revision(session, ctx, blobs, document, version, data, FROZEN)


def _validation_data(session: Session, authority: SigningAuthority, signer: x509.Certificate | None,
                     timestamp_response: bytes | None, now: datetime
                     ) -> tuple[list[x509.Certificate], list[x509.CertificateRevocationList]]:
    certs = [cert for cert in (signer, authority.ca_cert) if cert is not None] + list(authority.trust.roots)
    if timestamp_response is not None:
        certs += [cert for cert in pades.token_certificates(timestamp_response) if cert not in certs]
    crls = [revocation_list(authority, revocations(session), now)]
    if authority.root_crl is not None:
        crls.append(authority.root_crl(now))
    return certs, crls


def _appearance(manifest: Manifest, doc_type: DocumentType, language: str, zone: str) -> tuple[str, str]:
    """The visible text of the signature (11.50: printed name, date and time with zone, meaning) and its /Reason."""
    meaning = SIGNATURE_MEANINGS[manifest.meaning].text(language) if manifest.meaning in SIGNATURE_MEANINGS \
        else manifest.meaning
    if manifest.kind == REJECTION:
        meaning = text_for(language, "rejection").format(meaning=meaning)
    step = next((step.label.text(language) for step in doc_type.steps if step.name == manifest.step), manifest.step)
    when = format_in_zone(manifest.signed_at, zone)
    reason = f"{meaning}: {manifest.comment}" if manifest.kind == REJECTION and manifest.comment else meaning
    return f"{manifest.signer_printed_name}\n{meaning} ({step})\n{when}", reason


def sign_version_pdf(session: Session, ctx: AuditContext, blobs: BlobStore, doc_type: DocumentType,
                     document: dm.Document, version: dm.DocumentVersion, manifest: Manifest, *,
                     key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, authority: SigningAuthority,
                     timestamp_response: bytes) -> None:
    """The PAdES signature of `manifest`'s signer in the version's PDF, then its validation data (B-LT)."""
    current = signed_pdf(session, blobs, version)
    if current is None:
        return  # a version submitted before signed PDFs: `edms freeze-legacy-pdfs` gives it one, unsigned
    language, zone = pdf_locale(session, document)
    existing = pades.signature_fields(current)
    page = signature_page(doc_type.steps)
    reserved = [field.slot.name for field in page.reserved if field.step == manifest.step]
    free = next((name for name in reserved if name in existing and not existing[name]), None)
    new_field = None
    if manifest.kind == REJECTION or free is None:
        new_field = further_field(page, set(existing))
    appearance, reason = _appearance(manifest, doc_type, language, zone)
    request = pades.SignatureRequest(
        field=new_field.name if new_field else str(free), name=manifest.signer_printed_name, reason=reason,
        appearance=appearance, new_field=new_field, font_path=find_pdf_font())
    try:
        signed = pades.sign_pdf(current, request, key=key, cert=cert, chain=[authority.ca_cert, *authority.trust.roots],
                                timestamp=authority.timestamp)
    except Exception as exc:  # pyHanko raises many kinds; none may leave half a signature
        raise SigningFailed(N_("The signed PDF could not be signed, so nothing was signed: %(reason)s"),
                           reason=str(exc)) from exc
    append_pdf_revision(session, ctx, blobs, document, version, signed, SIGNATURE, signature_id=manifest.signature_id)
    certs, crls = _validation_data(session, authority, cert, timestamp_response, utc_now())
    append_pdf_revision(session, ctx, blobs, document, version, pades.add_validation_data(signed, certs, crls),
                        VALIDATION_DATA, signature_id=manifest.signature_id)


def timestamp_version_pdf(session: Session, ctx: AuditContext, blobs: BlobStore, document: dm.Document,
                          version: dm.DocumentVersion, authority: SigningAuthority) -> bool:
    """B-LTA: a document time-stamp on the PDF of a version in its final state (once). True if one was added."""
    if version.status not in FINAL_STATES or has_document_timestamp(session, version):
        return False
    current = signed_pdf(session, blobs, version)
    if current is None:
        return False
    # The TSA's certificate is already in the DSS (added with each signature); the CRLs are renewed.
    certs, crls = _validation_data(session, authority, None, None, utc_now())
    stamped = pades.add_document_timestamp(current, authority.timestamp, certs=certs, crls=crls)
    append_pdf_revision(session, ctx, blobs, document, version, stamped, DOCUMENT_TIMESTAMP)
    return True


def freeze_legacy_pdf(session: Session, ctx: AuditContext, blobs: BlobStore, doc_type: DocumentType,
                      document: dm.Document, version: dm.DocumentVersion, signatures) -> bool:
    """A frozen PDF for a version submitted before signed PDFs: its rendition as PDF/A-2b, listing the
    signatures it already has (their detached CMS signatures stay the record of them); no field is signed,
    nothing pretends to be re-signed. False if the version already has a PDF."""
    if latest_pdf_revision(session, version) is not None or not version.frozen:
        return False
    language, zone = pdf_locale(session, document)
    rendition = build_rendition(session, doc_type, document, version, language=language, display_tz=zone,
                                signatures=signatures)
    data = render_frozen_pdf(rendition, (), version.frozen_at or utc_now())
    append_pdf_revision(session, ctx, blobs, document, version, data, LEGACY)
    return True
