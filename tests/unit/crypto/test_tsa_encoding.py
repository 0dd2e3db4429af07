"""The internal TSA writes its tokens straight as DER (issue #15, signing speed): byte for byte what the
asn1crypto reference writes, for any imprint, serial, time, nonce, policy and certificate set, and the
result verifies. The signature is deterministic (RFC 6979), so both encoders can be compared whole."""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edms.crypto.tsa import make_timestamp_response, make_timestamp_response_reference, verify_timestamp

settings.register_profile("tsa", max_examples=150, deadline=None)

TIMES = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 12, 31),
                     timezones=st.sampled_from([UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-5))]))
# Serials and nonces around every length boundary of a DER INTEGER (sign bit included).
NUMBERS = st.one_of(st.integers(0, 300), st.integers(0, 2**160),
                    st.sampled_from([127, 128, 255, 256, 2**63 - 1, 2**63, 2**64 - 1]))
POLICIES = st.sampled_from(["1.2.3.4.1", "1.3.6.1.4.1.57264.2.1", "2.999.1", "1.2.392.200091.9.1"])


@pytest.mark.req("11.10(e)")
@settings(settings.get_profile("tsa"))
@given(imprint=st.binary(min_size=32, max_size=32), serial=NUMBERS, gen_time=TIMES, nonce=st.none() | NUMBERS,
       policy=POLICIES, with_root=st.booleans())
def test_the_fast_tsa_writes_exactly_the_reference_bytes(pki, imprint, serial, gen_time, nonce, policy, with_root):
    chain = [pki.root_cert] if with_root else []
    arguments = {"message_imprint": imprint, "serial": serial, "gen_time": gen_time, "nonce": nonce,
                 "policy_oid": policy}
    fast = make_timestamp_response(pki.tsa_key, pki.tsa_cert, chain, **arguments)
    reference = make_timestamp_response_reference(pki.tsa_key, pki.tsa_cert, chain, **arguments)
    assert fast == reference


@pytest.mark.req("11.10(e)")
def test_a_fast_token_verifies_at_its_time_and_only_for_its_imprint(pki, now):
    digest = hashlib.sha256(b"a signature value").digest()
    at = now.replace(microsecond=250_000)
    response = make_timestamp_response(pki.tsa_key, pki.tsa_cert, [pki.root_cert], message_imprint=digest, serial=9,
                                       gen_time=at, nonce=42, policy_oid="1.2.3.4.1")
    result = verify_timestamp(response, digest, [pki.root_cert])
    assert result.ok, result.reason
    assert result.gen_time == at
    other = verify_timestamp(response, hashlib.sha256(b"another").digest(), [pki.root_cert])
    assert not other.ok and "other data" in other.reason


def test_the_fast_tsa_refuses_a_digest_that_is_not_sha256(pki, now):
    with pytest.raises(ValueError, match="32 bytes"):
        make_timestamp_response(pki.tsa_key, pki.tsa_cert, [], message_imprint=b"short", serial=1, gen_time=now,
                                nonce=None, policy_oid="1.2.3.4.1")
