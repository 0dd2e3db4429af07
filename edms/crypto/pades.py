"""PAdES (ETSI EN 319 142-1) in a PDF, made with pyHanko: signatures, validation data, document time-stamps.

Every function takes the PDF as bytes and returns the PDF with one more incremental update appended, so
every earlier revision stays byte for byte what it was (the frozen PDF is only ever appended to):

- `add_signature_fields`: empty signature fields on a page (the frozen PDF's signature page);
- `sign_pdf`: a PAdES baseline signature (/SubFilter /ETSI.CAdES.detached, SHA-256, ESS
  signing-certificate-v2, signature time-stamp: B-T) with a visible appearance in its field;
- `add_validation_data`: certificates and CRLs in the Document Security Store (B-LT);
- `add_document_timestamp`: validation data, then an RFC 3161 document time-stamp over the whole file
  (B-LTA). It is the reusable archive step: bytes in, bytes out.

The time-stamps come from the organisation's TSA through `timestamp` (a SHA-256 digest in, a DER
TimeStampResp out): the same callable that stamps the detached CMS signatures (`edms.crypto.tsa`).
No key, time or network is read here: everything is passed in.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import io
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from asn1crypto import crl as asn1_crl
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import AxisAlignment, InnerScaling, Margins, SimpleBoxLayoutRule
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore

from edms.crypto import pades_font

Timestamp = Callable[[bytes], bytes]  # SHA-256 digest -> DER TimeStampResp
SIGNATURE_SUBFILTER = "/ETSI.CAdES.detached"
DOCUMENT_TIMESTAMP_SUBFILTER = "/ETSI.RFC3161"


T = TypeVar("T")


def off_event_loop(action: Callable[[], T]) -> T:
    """Run `action` here, or in a worker thread when this thread already runs an asyncio event loop:
    pyHanko's synchronous calls start their own loop (asyncio.run), which a running loop forbids."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return action()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(action).result()


class PadesError(RuntimeError):
    """The PDF could not be signed, time-stamped or extended as asked."""


@dataclass(frozen=True)
class FieldSlot:
    """An empty signature field: its name, page (0-based; -1 is the last page) and box in PDF points
    (x1, y1, x2, y2 from the bottom left)."""

    name: str
    page: int
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class SignatureRequest:
    """What one PAdES signature says: the field it fills (`new_field` when none is reserved for it), the
    signer's printed name, the reason (meaning, and a refusal's reason), and its visible appearance."""

    field: str
    name: str
    reason: str
    appearance: str  # the lines shown in the field: printed name, date and time with zone, meaning
    new_field: FieldSlot | None = None
    font_path: Path | None = None  # an OpenType/TrueType font, embedded (PDF/A) and able to draw Japanese


class _OrganisationTimeStamper(timestamps.TimeStamper):
    """pyHanko's time-stamper interface backed by edms's TSA (internal or external): the request's SHA-256
    imprint goes to `timestamp`, which checks nonces itself when it asks an external TSA."""

    def __init__(self, timestamp: Timestamp) -> None:
        super().__init__(include_nonce=False)  # type: ignore[no-untyped-call]  # pyHanko leaves it unannotated
        self._timestamp = timestamp

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        imprint = req["message_imprint"]
        if imprint["hash_algorithm"]["algorithm"].native != "sha256":
            raise PadesError("the organisation's TSA stamps SHA-256 imprints only")
        return tsp.TimeStampResp.load(self._timestamp(imprint["hashed_message"].native))


_STAMPERS: weakref.WeakKeyDictionary[Timestamp, _OrganisationTimeStamper] = weakref.WeakKeyDictionary()


def _stamper(timestamp: Timestamp) -> _OrganisationTimeStamper:
    """One pyHanko time-stamper per TSA callable, kept while the callable lives (the `Services` object keeps the
    signing authority, so once per process), as pyHanko means it to be reused: it asks the TSA once for the
    token it sizes every signature's reserved space with (with a 50 % margin), instead of at every signature."""
    try:
        found = _STAMPERS.get(timestamp)
        if found is None:
            found = _STAMPERS[timestamp] = _OrganisationTimeStamper(timestamp)
        return found
    except TypeError:  # a callable that cannot be weakly referenced: a stamper of its own
        return _OrganisationTimeStamper(timestamp)


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _asn1_crl(revocation_list: x509.CertificateRevocationList) -> asn1_crl.CertificateList:
    return asn1_crl.CertificateList.load(revocation_list.public_bytes(serialization.Encoding.DER))


def _writer(pdf: bytes) -> IncrementalPdfFileWriter:
    return IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)


def _written(writer: IncrementalPdfFileWriter) -> bytes:
    output = io.BytesIO()
    writer.write(output)  # type: ignore[no-untyped-call]  # pyHanko leaves it unannotated
    return output.getvalue()


def _field_spec(slot: FieldSlot) -> fields.SigFieldSpec:
    return fields.SigFieldSpec(sig_field_name=slot.name, on_page=slot.page, box=slot.box)


def add_signature_fields(pdf: bytes, slots: Sequence[FieldSlot]) -> bytes:
    """`pdf` with one empty signature field per slot, in one incremental update."""
    writer = _writer(pdf)
    for slot in slots:
        fields.append_signature_field(writer, _field_spec(slot))
    return _written(writer)


class _KeySigner(signers.Signer):
    """pyHanko's signer over the key object itself: its `sign()` makes the signature, so a key that never
    leaves an HSM (edms.pki.token.TokenKey) signs a PDF exactly as a key held in memory does."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: asn1_x509.Certificate,
                 registry: SimpleCertificateStore) -> None:
        super().__init__(signing_cert=cert, cert_registry=registry)
        self._key = key

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        algorithm = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[digest_algorithm]
        return self._key.sign(data, ec.ECDSA(algorithm))


def sign_pdf(pdf: bytes, request: SignatureRequest, *, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate,
             chain: Sequence[x509.Certificate], timestamp: Timestamp) -> bytes:
    """`pdf` with a PAdES B-T signature by `key` appended as an incremental update."""
    signer = _KeySigner(key, _asn1_cert(cert), SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
        [_asn1_cert(c) for c in chain]))  # (unannotated in pyHanko)
    return _sign_pdf(pdf, request, signer, timestamp)


def _sign_pdf(pdf: bytes, request: SignatureRequest, signer: signers.Signer, timestamp: Timestamp) -> bytes:
    metadata = signers.PdfSignatureMetadata(
        field_name=request.field, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
        name=request.name, reason=request.reason,
    )
    # The appearance font is prepared once per process for its characters (`edms.crypto.pades_font`).
    box_style = TextBoxStyle(font=pades_font.AppearanceFontFactory(
        pades_font.appearance_font(request.font_path, request.appearance)), font_size=pades_font.FONT_SIZE) \
        if request.font_path else TextBoxStyle(font_size=pades_font.FONT_SIZE)
    # Shrunk to fit its field: a long name or zone is never cut off (21 CFR 11.50: all of it is shown).
    fit = SimpleBoxLayoutRule(x_align=AxisAlignment.ALIGN_MIN, y_align=AxisAlignment.ALIGN_MID,
                              inner_content_scaling=InnerScaling.SHRINK_TO_FIT, margins=Margins(4, 4, 4, 4))
    # The stamp text is a %-format string (pyHanko fills %(ts)s and the like): a literal % is doubled.
    style = TextStampStyle(stamp_text=request.appearance.replace("%", "%%"), text_box_style=box_style, border_width=1,
                           inner_content_layout=fit)
    pdf_signer = signers.PdfSigner(
        metadata, signer=signer, timestamper=_stamper(timestamp), stamp_style=style,
        new_field_spec=_field_spec(request.new_field) if request.new_field else None,
    )
    output = off_event_loop(lambda: pdf_signer.sign_pdf(_writer(pdf), existing_fields_only=request.new_field is None))
    return bytes(output.getvalue())


def add_validation_data(pdf: bytes, certs: Sequence[x509.Certificate],
                        crls: Sequence[x509.CertificateRevocationList] = ()) -> bytes:
    """`pdf` with `certs` and `crls` added to its Document Security Store (B-LT), as an incremental update."""
    writer = _writer(pdf)
    DocumentSecurityStore.supply_dss_in_writer(
        writer, None, certs=[_asn1_cert(c) for c in certs], crls=[_asn1_crl(c) for c in crls])
    return _written(writer)


def add_document_timestamp(pdf: bytes, timestamp: Timestamp, *, certs: Sequence[x509.Certificate] = (),
                           crls: Sequence[x509.CertificateRevocationList] = ()) -> bytes:
    """B-LTA: the validation data (`certs`, `crls`) of what the PDF already holds, then an RFC 3161 document
    time-stamp over the whole file, each as an incremental update. Call it again, before the newest
    time-stamp's certificate expires, with the validation data the previous time-stamp needs."""
    extended = add_validation_data(pdf, certs, crls) if certs or crls else pdf
    stamper = signers.PdfTimeStamper(_stamper(timestamp))
    output = off_event_loop(lambda: stamper.timestamp_pdf(_writer(extended), md_algorithm="sha256"))
    return bytes(output.getvalue())


def signature_fields(pdf: bytes) -> dict[str, bool]:
    """The signature fields of `pdf` by name: True where the field is signed."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    return {str(name): value is not None for name, value, _ref in fields.enumerate_sig_fields(reader)}


def _is_timestamp_response(der: bytes) -> bool:
    """Whether `der` is a TimeStampResp (a SEQUENCE whose first element, the status, is a SEQUENCE) rather than a
    bare token (a ContentInfo, whose first element is its content type, an OBJECT IDENTIFIER). Read from the first
    bytes only: a full parse of a token costs tens of milliseconds in asn1crypto."""
    if len(der) < 2 or der[0] != 0x30:
        return False
    length = der[1]
    offset = 2 + (length & 0x7F if length & 0x80 else 0)
    return len(der) > offset and der[offset] == 0x30


def token_certificates(timestamp_response: bytes) -> list[x509.Certificate]:
    """The certificates an RFC 3161 TimeStampResp (or bare token) carries: the TSA's, for the DSS."""
    from asn1crypto import cms as asn1_cms

    if _is_timestamp_response(timestamp_response):
        token = tsp.TimeStampResp.load(timestamp_response)["time_stamp_token"]
    else:
        token = asn1_cms.ContentInfo.load(timestamp_response)
    certificates = token["content"]["certificates"]
    return [x509.load_der_x509_certificate(choice.chosen.dump()) for choice in certificates or []
            if choice.name == "certificate"]
