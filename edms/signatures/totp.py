"""Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP), with the standard library only.

A second factor for the roles listed in the `totp_roles` setting: any authenticator app enrolled with
the shared secret (base32, or the otpauth:// URI as a QR code elsewhere) produces the same codes.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from datetime import datetime
from urllib.parse import quote, urlencode

from edms.timeutil import require_aware

PERIOD = 30
DIGITS = 6
SECRET_BYTES = 20  # RFC 4226 §4 recommends 160 bits
# Codes one period either side are accepted: the phone's clock may be a little off.
WINDOW = 1
_DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


def to_base32(secret: bytes) -> str:
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def from_base32(text: str) -> bytes:
    cleaned = text.replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def hotp(secret: bytes, counter: int, *, digits: int = DIGITS, digest: str = "sha1") -> str:
    """RFC 4226 §5.3: HMAC of the 8-byte counter, dynamically truncated to `digits` decimal digits."""
    mac = hmac.new(secret, struct.pack(">Q", counter), _DIGESTS[digest]).digest()
    offset = mac[-1] & 0x0F
    binary = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(binary % 10**digits).zfill(digits)


def counter_at(moment: datetime, period: int = PERIOD) -> int:
    return int(require_aware(moment).timestamp()) // period


def totp(secret: bytes, moment: datetime, *, digits: int = DIGITS, digest: str = "sha1", period: int = PERIOD) -> str:
    return hotp(secret, counter_at(moment, period), digits=digits, digest=digest)


def accepted_counter(secret: bytes, code: str, moment: datetime, *, last_counter: int | None) -> int | None:
    """The time step `code` belongs to, or None. A step at or before `last_counter` (a code already
    used) is refused, so an overheard code cannot be replayed."""
    code = (code or "").strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    now = counter_at(moment)
    for counter in range(now - WINDOW, now + WINDOW + 1):
        if last_counter is not None and counter <= last_counter:
            continue
        if hmac.compare_digest(hotp(secret, counter), code):
            return counter
    return None


def provisioning_uri(secret: bytes, *, account: str, issuer: str) -> str:
    """The otpauth:// URI authenticator apps read (Google Authenticator key-URI format)."""
    label = quote(f"{issuer}:{account}", safe="")
    query = urlencode({"secret": to_base32(secret), "issuer": issuer, "algorithm": "SHA1",
                       "digits": DIGITS, "period": PERIOD})
    return f"otpauth://totp/{label}?{query}"
