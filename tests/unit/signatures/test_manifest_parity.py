"""Reading a manifest with its field checks made at once (issue #15) gives exactly what the reference reading
gives: the same Manifest for every manifest edms writes (formats 1 and 2, with and without comment and delegation),
and the same ManifestError, with the same message, for every way a stored manifest could be changed: a field
given a value of each JSON type, removed, added or renamed, another type or format, and any bytes at all."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from edms.signatures.manifest import Manifest, ManifestError, _parse_manifest_reference, parse_manifest

DELEGATION = {"delegation_id": 4, "role": "qa", "on_behalf_of_user_id": 9, "on_behalf_of_username": "akiko.tanaka",
              "on_behalf_of_printed_name": "田中 秋子", "delegate_user_id": 12,
              "valid_from": "2026-11-20T00:00:00.000000Z", "valid_until": "2026-12-20T00:00:00.000000Z"}


def written(**changes) -> bytes:
    fields = dict(
        signature_id="3f0c1a52-9d8e-4c5b-8a51-2b7f4e9d6c10", kind="signature", document_id=7,
        document_number="OOS-2026-0007", version=2, content_sha256="9f" * 32, step="qa_approval",
        meaning="approved", signer_user_id=12, signer_username="hiroshi.yamamoto", signer_printed_name="山本 博",
        signer_role="qa", signed_at=datetime(2026, 11, 25, 12, 6, 2, 123456, tzinfo=UTC), comment=None)
    fields.update(changes)
    return Manifest(**fields).to_bytes()


MANIFESTS = [written(), written(comment="Checked against the batch record 2026-0412."),
             written(delegation=DELEGATION), written(pdf_sha256="ab" * 32),
             written(kind="rejection", comment="理由: 逸脱", pdf_sha256="cd" * 32, delegation=DELEGATION)]
# A value of each JSON type, and the near misses of the types the fields take.
VALUES = [None, True, False, 0, 1, 2, -1, 2**53, 1.0, 2.0, "", "1", "signature", "2026-11-25T12:06:02.123456Z",
          [], [1], {}, {"a": 1}, DELEGATION]


def outcome(read, data: bytes) -> tuple:
    try:
        return "ok", read(data)
    except ManifestError as exc:
        return "refused", str(exc)


def fast(data: bytes) -> tuple:
    return outcome(parse_manifest.__wrapped__, data)  # not the process's cache: the reading itself


def reference(data: bytes) -> tuple:
    return outcome(_parse_manifest_reference, data)


def canonical(document) -> bytes:
    """RFC 8785's bytes where it writes the values (json's sorted compact form, the same for these, where not)."""
    try:
        return rfc8785.dumps(document)
    except rfc8785.CanonicalizationError:
        return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def field_variants(data: bytes) -> list[bytes]:
    """Each field given each value, removed, renamed; a field added; the whole as canonical and as not."""
    document = json.loads(data)
    out = []
    for name in document:
        for value in VALUES:
            out.append(canonical({**document, name: value}))
        out.append(canonical({key: value for key, value in document.items() if key != name}))
        out.append(canonical({(key + "_" if key == name else key): value for key, value in document.items()}))
    out += [canonical({**document, "extra": 1}), canonical({**document, "pdf_sha256": "ab" * 32}),
            json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode(),
            json.dumps(document, sort_keys=True).encode(), canonical([document]), canonical("manifest"), b"null"]
    return out


@pytest.mark.req("11.70")
@pytest.mark.parametrize("data", MANIFESTS)
def test_every_manifest_edms_writes_reads_as_the_reference_reads_it(data):
    assert fast(data) == reference(data) and fast(data)[0] == "ok"


@pytest.mark.req("11.70")
@pytest.mark.parametrize("data", MANIFESTS)
def test_a_changed_field_is_refused_with_the_references_message(data):
    for variant in field_variants(data):
        assert fast(variant) == reference(variant), variant


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(MANIFESTS), st.integers(0, 10_000), st.binary(min_size=0, max_size=3), st.integers(0, 3))
def test_any_bytes_changed_read_or_fail_as_the_reference(data, at, inserted, removed):
    at %= len(data) + 1
    variant = data[:at] + inserted + data[at + removed:]
    assert fast(variant) == reference(variant)
