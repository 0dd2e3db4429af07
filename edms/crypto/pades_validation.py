"""Validating a signed PDF with pyHanko, the organisation's root as the only trust anchor, nothing fetched.

For each signature: is it intact (the signed byte ranges hash to what the CMS signed, and the CMS signature
verifies), trusted (its certificate chains to the root), time-stamped (a valid RFC 3161 signature
time-stamp), long-term verifiable (ETSI EN 319 102-1 AdES validation with the long-term data of the PDF:
the DSS and the document time-stamps; PASSED), and are the later revisions only what PAdES allows
(validation data, document time-stamps, further signatures; pyHanko's modification analysis)? Document
time-stamps are listed too: intact and trusted.
"""
from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator.context import CertValidationPolicySpec, ValidationContext
from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, RevocationCheckingPolicy, RevocationCheckingRule
from pyhanko_certvalidator.registry import SimpleTrustManager

from edms.crypto.pades import off_event_loop

SIGNATURE, DOCUMENT_TIMESTAMP = "signature", "document_timestamp"


@dataclass(frozen=True)
class PdfSignatureCheck:
    field: str
    kind: str  # SIGNATURE or DOCUMENT_TIMESTAMP
    signer: str
    intact: bool
    trusted: bool
    timestamp: datetime | None  # the signature time-stamp's time, or the document time-stamp's
    ltv: bool  # AdES long-term validation PASSED (always False for a document time-stamp: not asked)
    modifications_ok: bool
    summary: str

    @property
    def ok(self) -> bool:
        if self.kind == DOCUMENT_TIMESTAMP:
            return self.intact and self.trusted
        return self.intact and self.trusted and self.timestamp is not None and self.ltv and self.modifications_ok


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _ades_spec(roots: list[asn1_x509.Certificate]) -> PdfSignatureValidationSpec:
    crl_required = RevocationCheckingRule.CRL_OR_OCSP_REQUIRED
    return PdfSignatureValidationSpec(SignatureValidationSpec(
        cert_validation_policy=CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(roots),
            revinfo_policy=CertRevTrustPolicy(RevocationCheckingPolicy(crl_required, crl_required)),
        ),
        revinfo_gathering_policy=RevocationInfoGatheringSpec(online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY),
    ))


def validate_signed_pdf(pdf: bytes, trust_roots: Sequence[x509.Certificate]) -> list[PdfSignatureCheck]:
    """Every signature and document time-stamp of `pdf`, in file order, judged now."""
    return off_event_loop(lambda: _validate(pdf, trust_roots))


def _validate(pdf: bytes, trust_roots: Sequence[x509.Certificate]) -> list[PdfSignatureCheck]:
    roots = [_asn1(root) for root in trust_roots]
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    checks: list[PdfSignatureCheck] = []
    for embedded in reader.embedded_signatures:
        name = str(embedded.field_name)
        context = ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")
        try:
            if embedded.sig_object.get("/Type") == "/DocTimeStamp":
                stamp = validate_pdf_timestamp(embedded, validation_context=context)
                checks.append(PdfSignatureCheck(name, DOCUMENT_TIMESTAMP, stamp.signing_cert.subject.human_friendly,
                                                stamp.intact and stamp.valid, stamp.trusted, stamp.timestamp, False,
                                                True, stamp.summary()))
                continue
            status = validate_pdf_signature(embedded, signer_validation_context=context)
            ades = asyncio.run(ades_lta_validation(embedded, _ades_spec(roots)))
        except (SignatureValidationError, ValueError, KeyError) as exc:
            checks.append(PdfSignatureCheck(name, SIGNATURE, "", False, False, None, False, False, str(exc)))
            continue
        stamp_validity = status.timestamp_validity
        stamped = stamp_validity.timestamp if stamp_validity is not None and stamp_validity.valid \
            and stamp_validity.intact and stamp_validity.trusted else None
        checks.append(PdfSignatureCheck(
            name, SIGNATURE, status.signing_cert.subject.human_friendly if status.signing_cert else "",
            status.intact and status.valid, status.trusted, stamped,
            ades.ades_subindic.status.name == "PASSED", bool(status.docmdp_ok) and status.modification_level is not None
            and status.modification_level.name in ("NONE", "LTA_UPDATES", "FORM_FILLING"),
            status.summary(),
        ))
    return checks
