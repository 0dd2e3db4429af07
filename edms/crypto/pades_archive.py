"""What the archiver needs to know of a signed PDF's newest document time-stamp (PAdES B-LTA): when it was
made, the certificates its token carries and the algorithms it uses; and whether a document time-stamp it
just added holds at a given moment (intact, its TSA chaining to a trusted root then)."""
from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_timestamp
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko_certvalidator.context import ValidationContext

from edms.crypto.pades import off_event_loop


@dataclass(frozen=True)
class DocumentTimestampFacts:
    field: str
    gen_time: datetime
    tsa: x509.Certificate  # the certificate of the TSA that signed the token
    certificates: tuple[x509.Certificate, ...]  # every certificate the token carries
    algorithms: frozenset[str]  # dotted OIDs: the imprint's hash, the token's digest and signature algorithms


def newest_document_timestamp(pdf: bytes) -> DocumentTimestampFacts | None:
    """The last document time-stamp of `pdf` in file order, or None when it has none."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    stamps = [embedded for embedded in reader.embedded_signatures
              if embedded.sig_object.get("/Type") == "/DocTimeStamp"]
    if not stamps:
        return None
    newest = stamps[-1]
    signed_data = newest.signed_data
    tst_info = signed_data["encap_content_info"]["content"].parsed
    certificates = tuple(x509.load_der_x509_certificate(choice.chosen.dump())
                         for choice in signed_data["certificates"] or [] if choice.name == "certificate")
    signer_info = signed_data["signer_infos"][0]
    sid = signer_info["sid"]
    tsa = next((cert for cert in certificates
                if sid.name == "issuer_and_serial_number"
                and cert.serial_number == sid.chosen["serial_number"].native
                and cert.issuer.public_bytes() == sid.chosen["issuer"].dump()), None)
    if tsa is None:  # identified by key identifier, or the issuer's name encoded differently
        tsa = next(cert for cert in certificates if _is_tsa(cert))
    algorithms = frozenset({
        tst_info["message_imprint"]["hash_algorithm"]["algorithm"].dotted,
        signer_info["digest_algorithm"]["algorithm"].dotted,
        signer_info["signature_algorithm"]["algorithm"].dotted,
    })
    return DocumentTimestampFacts(str(newest.field_name), tst_info["gen_time"].native, tsa, certificates, algorithms)


def _is_tsa(cert: x509.Certificate) -> bool:
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return x509.oid.ExtendedKeyUsageOID.TIME_STAMPING in usages


def newest_timestamp_problem(pdf: bytes, roots: Sequence[x509.Certificate], at: datetime) -> str | None:
    """None when the newest document time-stamp of `pdf` is intact and its TSA chains to one of `roots` at
    `at`; else what is wrong (checked before a renewal is stored: edms stores no evidence it cannot verify)."""
    return off_event_loop(lambda: _newest_timestamp_problem(pdf, roots, at))


def _newest_timestamp_problem(pdf: bytes, roots: Sequence[x509.Certificate], at: datetime) -> str | None:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    stamps = [embedded for embedded in reader.embedded_signatures
              if embedded.sig_object.get("/Type") == "/DocTimeStamp"]
    if not stamps:
        return "the PDF has no document time-stamp"
    anchors = [asn1_x509.Certificate.load(root.public_bytes(serialization.Encoding.DER)) for root in roots]
    context = ValidationContext(trust_roots=anchors, moment=at, allow_fetching=False, revocation_mode="soft-fail")
    try:
        status = validate_pdf_timestamp(stamps[-1], validation_context=context)
    except (SignatureValidationError, ValueError, KeyError) as exc:
        return f"the new document time-stamp does not validate: {exc}"
    if not (status.intact and status.valid and status.trusted):
        return f"the new document time-stamp does not validate: {status.summary()}"
    return None
