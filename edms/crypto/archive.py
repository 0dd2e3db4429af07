"""Making archive time-stamps (RFC 4998 Evidence Records, format in `edms.verifier.evidence`).

Pure: the caller passes the time-stamping function (internal TSA or an external one) and the validation
data it collected; nothing here reads a clock or a database.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from edms.verifier.evidence import (
    encode_archive_stamp,
    encode_validation_data,
    first_group,
    group_digest,
    renewal_group,
)
from edms.verifier.timestamp import token_of

Timestamper = Callable[[bytes], bytes]  # SHA-256 digest -> RFC 3161 TimeStampResp (DER)


def validation_data(certificates: Sequence[x509.Certificate], crls: Sequence[x509.CertificateRevocationList]) -> bytes:
    """The certificates and CRLs that show the previous layer of evidence was valid, as one DER value."""
    unique_certs = list(dict.fromkeys(cert.public_bytes(Encoding.DER) for cert in certificates))
    unique_crls = list(dict.fromkeys(crl.public_bytes(Encoding.DER) for crl in crls))
    return encode_validation_data(unique_certs, unique_crls)


def first_archive_stamp(manifest: bytes, cms: bytes, stamp: bytes, validation: bytes, timestamp: Timestamper) -> bytes:
    """The first ArchiveTimeStamp (DER): it covers the signed manifest, the CMS, its time-stamp and `validation`."""
    group = first_group(manifest, cms, stamp, validation)
    return encode_archive_stamp(token_of(timestamp(group_digest(group))), group, validation)


def renewal_archive_stamp(previous_token: bytes, validation: bytes, timestamp: Timestamper) -> bytes:
    """A time-stamp renewal (RFC 4998 §5.2): covers the previous archive time-stamp's token and `validation`."""
    group = renewal_group(previous_token, validation)
    return encode_archive_stamp(token_of(timestamp(group_digest(group))), group, validation)
