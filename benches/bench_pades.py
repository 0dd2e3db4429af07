"""The cost of the signed PDF: adding a PAdES signature and validating one, against the raw signature
operations in the same run, and the bytes each signature adds.

    .venv/bin/python benches/bench_pades.py --signatures 10

No database and no password: the key is already open, so the deliberate password KDF is excluded by
construction. A fresh organisation PKI (edms.crypto.pki) and the internal TSA; the frozen PDF of an OOS
notification (PDF/A-2b, the Japanese font embedded, its signature page with empty fields) rendered once.
Then, N times each, timed separately:

- `pades_sign`: one PAdES B-T signature (edms.crypto.pades.sign_pdf: pyHanko, signature time-stamp from
  the internal TSA, visible appearance with the embedded font) into a reserved field;
- `pades_validation_data`: the chain's certificates and two CRLs in the DSS (B-LT);
- `pades_validate`: pyHanko's validation of one signature, integrity, trust and AdES long-term validation
  (edms.crypto.pades_validation), divided by the signatures in the PDF;
- the raw operations: ECDSA P-256 over SHA-256, edms's detached CMS over a manifest, and one internal TSA
  token; and the bytes each revision adds.

Prints one JSON line per figure: {"bench": "pades", "figure": ..., "value": ..., "unit": ...}.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

ROOT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT_DIR))

from edms.config import FORMS_DIR  # noqa: E402
from edms.crypto import pades  # noqa: E402
from edms.crypto.cms import sign_detached  # noqa: E402
from edms.crypto.pades_validation import SIGNATURE, validate_signed_pdf  # noqa: E402
from edms.crypto.pki import bootstrap_pki, build_crl, generate_private_key, issue_user_certificate  # noqa: E402
from edms.crypto.tsa import make_timestamp_response  # noqa: E402
from edms.documents.renditions import Rendition, find_pdf_font  # noqa: E402
from edms.documents.renditions.frozen import render_frozen_pdf, signature_page  # noqa: E402
from edms.documents.types import load_document_types  # noqa: E402
from tests.support.examples import VALUES  # noqa: E402

ORGANISATION = "Kansai Regenerative Cell Therapies K.K."


def emit(figure: str, value: float, unit: str, **extra: object) -> None:
    print(json.dumps({"bench": "pades", "figure": figure, "value": value, "unit": unit, **extra}, ensure_ascii=False))


def timed(action, repeat: int) -> tuple[float, object]:
    """The median seconds of `repeat` runs of `action`, and its last result."""
    durations, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        durations.append(time.perf_counter() - start)
    return statistics.median(durations), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=10, help="repetitions of each timed operation")
    args = parser.parse_args()
    now = datetime.now(UTC)
    pki = bootstrap_pki(ORGANISATION, now)
    key = generate_private_key()
    cert = issue_user_certificate(pki.intermediate_cert, pki.intermediate_key, key.public_key(),
                                  printed_name="Emi Nakamura", username="emi.nakamura", user_id="7",
                                  org_name=ORGANISATION, now=now)
    serial = iter(range(1, 10**9))

    def timestamp(digest: bytes) -> bytes:
        return make_timestamp_response(pki.tsa_key, pki.tsa_cert, [pki.root_cert], message_imprint=digest,
                                       serial=next(serial), gen_time=datetime.now(UTC), nonce=None,
                                       policy_oid="2.25.1")

    doc_type = load_document_types(FORMS_DIR)["oos_notification"]
    rendition = Rendition(doc_type=doc_type, number="OOS-2026-0001", title="OOS notification, lot L2026-0412",
                          version=1, status="in_review", content_sha256="0" * 64,
                          values=VALUES["oos_notification"], generated_at=now, language="ja",
                          display_tz="Asia/Tokyo")
    frozen = render_frozen_pdf(rendition, doc_type.steps, now)
    emit("frozen_pdf_bytes", len(frozen), "bytes")
    fields = [field.slot.name for field in signature_page(doc_type.steps).reserved]
    font = find_pdf_font()
    chain = [pki.intermediate_cert, pki.root_cert]
    crls = [build_crl(pki.intermediate_cert, pki.intermediate_key, [], now, now.replace(year=now.year + 1)),
            build_crl(pki.root_cert, pki.root_key, [], now, now.replace(year=now.year + 1))]

    def request(field: str) -> pades.SignatureRequest:
        # Each appearance differs (its time), as in the ceremony; its font is prepared once per process for the
        # characters it draws (edms.crypto.pades_font): the first signature prepares it, the next ones reuse it.
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return pades.SignatureRequest(field, "中村 恵美 (Emi Nakamura)", "承認 (Approved)",
                                      f"中村 恵美 (Emi Nakamura)\n承認 (QA review)\n{when} UTC", font_path=font)

    first_seconds, _ = timed(lambda: pades.sign_pdf(frozen, request(fields[0]), key=key, cert=cert, chain=chain,
                                                    timestamp=timestamp), 1)
    emit("pades_sign_first_ms", round(first_seconds * 1000, 1), "ms",
         note="the process's first signature with these characters: its appearance font prepared")
    sign_seconds, signed = timed(lambda: pades.sign_pdf(frozen, request(fields[0]), key=key, cert=cert, chain=chain,
                                                        timestamp=timestamp), args.signatures)
    emit("pades_sign_ms", round(sign_seconds * 1000, 1), "ms",
         note="one PAdES B-T signature, KDF excluded, its font prepared earlier")
    emit("pades_signature_bytes", len(signed) - len(frozen), "bytes", note="the incremental update of one signature")
    dss_seconds, extended = timed(lambda: pades.add_validation_data(signed, [cert, *chain, pki.tsa_cert], crls),
                                  args.signatures)
    emit("pades_validation_data_ms", round(dss_seconds * 1000, 1), "ms")
    emit("pades_validation_data_bytes", len(extended) - len(signed), "bytes")
    current = extended
    for field in fields[1:]:  # every reserved field signed, each followed by its validation data
        current = pades.sign_pdf(current, request(field), key=key, cert=cert, chain=chain, timestamp=timestamp)
        current = pades.add_validation_data(current, [cert, *chain, pki.tsa_cert], crls)
    archived = pades.add_document_timestamp(current, timestamp, crls=crls)
    emit("document_timestamp_bytes", len(archived) - len(current), "bytes")
    emit("signed_pdf_bytes", len(archived), "bytes", signatures=len(fields))
    validate_seconds, checks = timed(lambda: validate_signed_pdf(archived, [pki.root_cert]), max(1, args.signatures // 5))
    signatures = [check for check in checks if check.kind == SIGNATURE]
    assert all(check.ok for check in checks), [check.summary for check in checks]
    emit("pades_validate_ms_per_signature", round(validate_seconds / len(signatures) * 1000, 1), "ms",
         note="integrity, trust and AdES long-term validation (pyHanko)")

    manifest = json.dumps({"type": "edms.electronic-signature", "meaning": "approved"}).encode()
    raw_sign, signature = timed(lambda: key.sign(manifest, ec.ECDSA(hashes.SHA256())), 200)
    emit("raw_ecdsa_p256_sign_ms", round(raw_sign * 1000, 3), "ms")
    raw_verify, _ = timed(lambda: key.public_key().verify(signature, manifest, ec.ECDSA(hashes.SHA256())), 200)
    emit("raw_ecdsa_p256_verify_ms", round(raw_verify * 1000, 3), "ms")
    raw_cms, _ = timed(lambda: sign_detached(key, cert, manifest, chain), 50)
    emit("raw_detached_cms_sign_ms", round(raw_cms * 1000, 2), "ms", note="the manifest signature of the same ceremony")
    raw_tsa, _ = timed(lambda: timestamp(bytes(32)), 20)
    emit("raw_internal_tsa_token_ms", round(raw_tsa * 1000, 2), "ms")


if __name__ == "__main__":
    main()
