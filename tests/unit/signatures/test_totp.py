"""RFC 6238 one-time codes: the RFC's own test vectors, the tolerance window and replay refusal."""
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from edms.signatures import totp

SEEDS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
# RFC 6238 Appendix B: (Unix time, SHA-1, SHA-256, SHA-512), 8 digits.
VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.req("11.200(a)(1)")
@pytest.mark.parametrize("unix, sha1, sha256, sha512", VECTORS)
def test_rfc_6238_appendix_b_vectors(unix, sha1, sha256, sha512):
    moment = datetime.fromtimestamp(unix, UTC)
    for digest, expected in (("sha1", sha1), ("sha256", sha256), ("sha512", sha512)):
        assert totp.totp(SEEDS[digest], moment, digits=8, digest=digest) == expected


def test_rfc_4226_appendix_d_hotp_vectors():
    expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]
    assert [totp.hotp(SEEDS["sha1"], counter) for counter in range(10)] == expected


def test_a_code_is_accepted_one_step_either_side_and_never_twice():
    secret = totp.new_secret()
    now = datetime(2026, 11, 25, 12, 0, 15, tzinfo=UTC)
    step = totp.counter_at(now)
    for offset in (-1, 0, 1):
        code = totp.hotp(secret, step + offset)
        assert totp.accepted_counter(secret, code, now, last_counter=None) == step + offset
    assert totp.accepted_counter(secret, totp.hotp(secret, step - 2), now, last_counter=None) is None
    used = totp.hotp(secret, step)
    assert totp.accepted_counter(secret, used, now, last_counter=step) is None  # replay refused
    assert totp.accepted_counter(secret, totp.hotp(secret, step + 1), now, last_counter=step) == step + 1
    for garbage in ("", "12345", "abcdef", "1234567"):
        assert totp.accepted_counter(secret, garbage, now, last_counter=None) is None


def test_the_secret_and_the_otpauth_uri_are_what_authenticator_apps_read():
    secret = totp.new_secret()
    assert len(secret) == 20 and totp.from_base32(totp.to_base32(secret)) == secret
    uri = totp.provisioning_uri(secret, account="akiko.tanaka", issuer="Kansai Regenerative Cell Therapies K.K.")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    query = parse_qs(parts.query)
    assert query["secret"] == [totp.to_base32(secret)] and query["digits"] == ["6"] and query["period"] == ["30"]
    assert "akiko.tanaka" in parts.path
