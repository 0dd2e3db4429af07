"""A stored edms signature: a CMS signature whose signature value an RFC 3161 time-stamp covers (as
CAdES-T does). The time-stamp is judged first; the signature, its chain and revocation are then judged at
the stamped moment, never at today's date (21 CFR 11.300(c), EU Annex 11 §17)."""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from edms.verifier.cms import CmsResult, signature_value, verify_cms
from edms.verifier.errors import Invalid
from edms.verifier.timestamp import Stamp, verify_timestamp


class TimestampInvalid(Invalid):
    """The time-stamp of the signature fails: nothing fixes when it was made."""


class SignatureInvalid(Invalid):
    """The signature fails at its stamped moment."""

    def __init__(self, reason: str, stamped_at: datetime) -> None:
        super().__init__(reason)
        self.stamped_at = stamped_at


@dataclass(frozen=True)
class StampedSignature:
    signed: CmsResult
    stamp: Stamp


def verify_stamped(cms_der: bytes, stamp_der: bytes, content: bytes, roots: Sequence[x509.Certificate], *,
                   tsa_roots: Sequence[x509.Certificate] | None = None, untrusted: Sequence[x509.Certificate] = (),
                   crls: Sequence[x509.CertificateRevocationList] = ()) -> StampedSignature:
    """`cms_der` over exactly `content`, by a certificate chaining to `roots`, valid and unrevoked when
    `stamp_der` (by a TSA chaining to `tsa_roots`, by default `roots`) says it existed.

    Raises Invalid for a malformed CMS, TimestampInvalid or SignatureInvalid for the step that fails."""
    value = signature_value(cms_der)
    try:
        stamp = verify_timestamp(stamp_der, hashlib.sha256(value).digest(), roots if tsa_roots is None else tsa_roots,
                                 untrusted=untrusted, crls=crls)
    except Invalid as exc:
        raise TimestampInvalid(str(exc)) from None
    try:
        signed = verify_cms(cms_der, content, roots, stamp.gen_time, untrusted=untrusted, crls=crls)
    except Invalid as exc:
        raise SignatureInvalid(str(exc), stamp.gen_time) from None
    return StampedSignature(signed, stamp)
