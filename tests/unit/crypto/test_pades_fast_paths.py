"""What the PAdES signature of a signing request no longer redoes each time (issue #15, signing speed), proved
equal to the way it was done before: the appearance font is subset once per process for a set of characters
(not parsed from the 6 MB Japanese font at every signature), and the TSA's certificates for the DSS are read
from the time-stamp without a full asn1crypto parse of the token."""
from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime

import pytest
from asn1crypto import cms as asn1_cms
from asn1crypto import tsp
from cryptography import x509
from fontTools import subset
from fontTools.ttLib import TTFont
from fontTools.ttLib.scaleUpem import scale_upem
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.writer import PdfFileWriter

from edms.config import FORMS_DIR
from edms.crypto import pades, pades_font
from edms.crypto.tsa import make_timestamp_response, token_from_response
from edms.documents.renditions import Rendition, find_pdf_font
from edms.documents.renditions.frozen import render_frozen_pdf, signature_page
from edms.documents.types import load_document_types
from tests.support.examples import VALUES
from tests.unit.crypto.conftest import certified_key

APPEARANCE = "佐藤 健二\n承認 (品質保証 / QA review)\n2026-12-07 14:20:31 JST"


def reference_token_certificates(timestamp_response: bytes) -> list[x509.Certificate]:
    """`token_certificates` as it was: a full parse tells a response from a bare token."""
    try:
        token = tsp.TimeStampResp.load(timestamp_response)["time_stamp_token"]
        token.native  # noqa: B018
    except (ValueError, TypeError, KeyError):
        token = asn1_cms.ContentInfo.load(timestamp_response)
    certificates = token["content"]["certificates"]
    return [x509.load_der_x509_certificate(choice.chosen.dump()) for choice in certificates or []
            if choice.name == "certificate"]


def reference_subset(characters: str) -> TTFont:
    """The appearance font as the ceremony made it at every signature: the whole font parsed, then subset."""
    font = TTFont(str(find_pdf_font()))
    subsetter = subset.Subsetter(subset.Options(layout_features=["*"], name_IDs=["*"], notdef_outline=True))
    subsetter.populate(text=characters)
    subsetter.subset(font)
    if font["head"].unitsPerEm != 1000:
        scale_upem(font, 1000)
    output = io.BytesIO()
    font.save(output)
    return TTFont(io.BytesIO(output.getvalue()))


def _tables(font: TTFont) -> dict[str, bytes]:
    """Every table's bytes; the head table without its modification time (set when a font is saved)."""
    tables = {tag: font.reader[tag] for tag in font.reader.keys() if tag != "head"}
    head = font["head"]
    tables["head"] = repr(sorted((name, value) for name, value in vars(head).items()
                                 if name not in ("modified", "checkSumAdjustment"))).encode()
    return tables


@pytest.mark.req("11.10(e)")
@pytest.mark.parametrize("with_chain", [True, False])
def test_the_tsa_certificates_for_the_dss_are_those_the_full_parse_finds_in_a_response_and_a_bare_token(
        pki, now, with_chain):
    digest = hashlib.sha256(b"a signature value").digest()
    response = make_timestamp_response(pki.tsa_key, pki.tsa_cert, [pki.root_cert] if with_chain else [],
                                       message_imprint=digest, serial=7, gen_time=now, nonce=None,
                                       policy_oid="1.2.3.4.1")
    token = token_from_response(response)
    assert pades.token_certificates(response) == reference_token_certificates(response)
    assert pades.token_certificates(token) == reference_token_certificates(token)
    assert pki.tsa_cert in pades.token_certificates(response)


@pytest.mark.req("11.50(a)")
@pytest.mark.parametrize("appearance", [APPEARANCE, "José Müller-Øberg\nApproved (QA review)\n2026-12-07 05:20:31 UTC"])
def test_the_appearance_font_made_once_per_character_set_is_the_subset_made_afresh(appearance):
    pades_font._appearance_font_data.cache_clear()
    cached = TTFont(io.BytesIO(pades_font.appearance_font(find_pdf_font(), appearance)))
    assert _tables(cached) == _tables(reference_subset(pades_font.appearance_characters(appearance)))
    assert cached["head"].unitsPerEm == 1000
    drawn = cached.getBestCmap()
    assert all(ord(character) in drawn for character in appearance if character != "\n")


@pytest.mark.req("11.50(a)")
def test_a_later_signature_with_the_same_name_meaning_and_zone_reuses_the_font_and_another_name_does_not():
    pades_font._appearance_font_data.cache_clear()
    first = pades_font.appearance_font(find_pdf_font(), APPEARANCE)
    # A minute later: other digits of the time, the same characters to draw (the digits are always there).
    later = pades_font.appearance_font(find_pdf_font(), APPEARANCE.replace("14:20:31", "14:21:58"))
    assert later == first
    assert pades_font._appearance_font_data.cache_info().misses == 1
    other = pades_font.appearance_font(find_pdf_font(), APPEARANCE.replace("佐藤 健二", "田中 明子"))
    drawn = TTFont(io.BytesIO(other)).getBestCmap()
    assert all(ord(character) in drawn for character in "田中明子")
    assert pades_font._appearance_font_data.cache_info().misses == 2


def _embedded(factory, text: str) -> tuple[bytes, TTFont]:
    """The content stream pyHanko draws `text` with and the font program it embeds, through `factory`."""
    writer = PdfFileWriter()
    engine = factory.create_font_engine(writer)
    shaped = engine.shape(text)
    engine.prepare_write()
    program = engine.cidfont_obj._font_descriptor["/FontFile2"].get_object().data
    return shaped.graphics_ops, TTFont(io.BytesIO(program))


@pytest.mark.req("11.50(a)")
def test_the_embedded_font_kept_for_the_glyphs_drawn_is_the_one_pyhanko_makes_itself(tmp_path):
    font = pades_font.appearance_font(find_pdf_font(), APPEARANCE)
    (tmp_path / "appearance.ttf").write_bytes(font)
    pyhanko_made = GlyphAccumulatorFactory(str(tmp_path / "appearance.ttf"), font_size=pades_font.FONT_SIZE)
    line = APPEARANCE.splitlines()[0]
    reference_ops, reference_font = _embedded(pyhanko_made, line)
    for _ in range(2):  # made once, then from what was kept
        ops, embedded = _embedded(pades_font.AppearanceFontFactory(font), line)
        assert ops == reference_ops
        assert _tables(embedded) == _tables(reference_font)
    other_ops, other_font = _embedded(pades_font.AppearanceFontFactory(font), APPEARANCE.splitlines()[2])
    assert other_ops != reference_ops and _tables(other_font) != _tables(reference_font)


@pytest.mark.req("11.10(e)")
def test_signing_twice_asks_the_tsa_for_the_sizing_token_once(pki, now):
    """pyHanko sizes a signature's reserved space with a token it asks for once per time-stamper; the stamper
    is now kept per TSA callable. (That the ceremony's signed PDFs validate, signed this way, is
    tests/integration/test_signed_pdfs.py.)"""
    doc_type = load_document_types(FORMS_DIR)["oos_notification"]
    rendition = Rendition(doc_type=doc_type, number="OOS-2026-0001", title="OOS notification, lot L2026-0412",
                          version=1, status="in_review", content_sha256="0" * 64, values=VALUES["oos_notification"],
                          generated_at=now, language="ja", display_tz="Asia/Tokyo")
    frozen = render_frozen_pdf(rendition, doc_type.steps, now)
    fields = [field.slot.name for field in signature_page(doc_type.steps).reserved]
    key, cert = certified_key(pki, now, "Emi Nakamura", "emi.nakamura", "7")
    serials = iter(range(1, 100))
    asked: list[bytes] = []

    def timestamp(digest: bytes) -> bytes:
        asked.append(digest)
        return make_timestamp_response(pki.tsa_key, pki.tsa_cert, [pki.root_cert], message_imprint=digest,
                                       serial=next(serials), gen_time=datetime.now(UTC), nonce=None,
                                       policy_oid="1.2.3.4.1")

    signed = frozen
    for field in fields[:2]:
        request = pades.SignatureRequest(field, "中村 恵美", "承認", f"中村 恵美\n承認 (QA review)\n{datetime.now(UTC)}",
                                         font_path=find_pdf_font())
        signed = pades.sign_pdf(signed, request, key=key, cert=cert, chain=[pki.intermediate_cert, pki.root_cert],
                                timestamp=timestamp)
    # One token sized the reserved space of both signatures, one is in each: three, not four.
    assert len(asked) == 3
    assert {name for name, filled in pades.signature_fields(signed).items() if filled} == set(fields[:2])
