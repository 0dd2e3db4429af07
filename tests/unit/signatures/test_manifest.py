"""The signed manifest: RFC 8785 bytes that carry the name, time and meaning, and bind to one version."""
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
import rfc8785

from edms.signatures.manifest import Manifest, ManifestError, parse_manifest


def manifest(**changes) -> Manifest:
    fields = dict(
        signature_id="3f0c1a52-9d8e-4c5b-8a51-2b7f4e9d6c10", kind="signature", document_id=7,
        document_number="OOS-2026-0007", version=2, content_sha256="9f" * 32, step="qa_approval",
        meaning="approved", signer_user_id=12, signer_username="hiroshi.yamamoto",
        signer_printed_name="山本 博", signer_role="qa",
        signed_at=datetime(2026, 11, 25, 12, 6, 2, 123456, tzinfo=UTC), comment=None,
    )
    fields.update(changes)
    return Manifest(**fields)


@pytest.mark.req("11.50(b)")
def test_the_manifest_is_rfc8785_canonical_json_with_name_time_meaning_and_record():
    data = manifest().to_bytes()
    document = json.loads(data)
    assert rfc8785.dumps(document) == data
    assert document["signer_printed_name"] == "山本 博" and "山本 博".encode() in data  # UTF-8, not \u escapes
    assert document["signed_at"] == "2026-11-25T12:06:02.123456Z"
    assert document["meaning"] == "approved" and document["step"] == "qa_approval"
    assert (document["document_number"], document["version"], document["content_sha256"]) == ("OOS-2026-0007", 2, "9f" * 32)
    assert document["delegation"] is None and document["kind"] == "signature"
    assert document["type"] == "edms.electronic-signature" and document["format"] == 1


def test_parsing_gives_back_the_same_manifest():
    original = manifest(comment="Checked against the batch record 2026-0412.")
    assert parse_manifest(original.to_bytes()) == original


def test_signing_times_elsewhere_than_utc_are_stored_in_utc():
    tokyo = timezone(timedelta(hours=9))
    local = manifest(signed_at=datetime(2026, 11, 25, 21, 6, 2, tzinfo=tokyo))
    assert json.loads(local.to_bytes())["signed_at"] == "2026-11-25T12:06:02.000000Z"
    with pytest.raises(ValueError):
        manifest(signed_at=datetime(2026, 11, 25, 21, 6, 2))


@pytest.mark.req("11.70")
@pytest.mark.parametrize("alter", [
    lambda data: data.replace(b'{"comment"', b'{ "comment"'),  # not canonical
    lambda data: data[:-1] + b',"extra":1}',  # a field edms never writes
    lambda data: data.replace(b'"version":2', b'"version":"2"'),  # wrong type
    lambda data: data.replace(b'"kind":"signature"', b'"kind":"approval"'),  # unknown kind
    lambda data: data.replace(b'"delegation":null', b'"delegation":"someone"'),  # a delegation is null or an object
    lambda data: data.replace(b"2026-11-25T12:06:02.123456Z", b"2026-11-25 12:06"),
    lambda data: b"not json",
])
def test_anything_but_the_bytes_edms_writes_is_refused(alter):
    with pytest.raises(ManifestError):
        parse_manifest(alter(manifest().to_bytes()))
