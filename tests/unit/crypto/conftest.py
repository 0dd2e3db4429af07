"""What the crypto unit tests share: an organisation PKI made at the real time, and a person's key and
certificate issued under it, and PEM files for openssl."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

from edms.crypto.pki import bootstrap_pki, generate_private_key, issue_user_certificate

ORG = "Example Cell Therapy K.K."


@pytest.fixture(scope="module")
def now():
    # Real time: openssl judges certificate validity at its own clock.
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def pki(now):
    return bootstrap_pki(ORG, now - timedelta(days=1))


def certified_key(pki, now: datetime, printed_name: str, username: str,
                  user_id: str) -> tuple[EllipticCurvePrivateKey, x509.Certificate]:
    """A new signing key and its certificate from the organisation's signing CA, valid since yesterday."""
    key = generate_private_key()
    cert = issue_user_certificate(pki.intermediate_cert, pki.intermediate_key, key.public_key(),
                                  printed_name=printed_name, username=username, user_id=user_id,
                                  org_name=ORG, now=now - timedelta(days=1))
    return key, cert


def write_pem(path: Path, *objects: x509.Certificate | x509.CertificateRevocationList) -> str:
    """Certificates or CRLs as one PEM file, for openssl; returns its path."""
    path.write_bytes(b"".join(o.public_bytes(serialization.Encoding.PEM) for o in objects))
    return str(path)
