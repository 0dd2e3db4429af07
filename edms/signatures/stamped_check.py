"""The cryptographic part of verifying stored signatures, one at a time or a batch at a time in a worker
process: the time-stamp, the CMS signature over the manifest, both certificate chains and revocation at
the stamped moment, all by the offline verifier's code (`edms.verifier.stamped`).

What the verdict means for the record (who signed, which version, the row's columns) is judged by
`edms.signatures.verification` from the `Outcome`. This module imports only the verifier and
`cryptography`, so that a worker process starts quickly; a worker judges against the trust state it was
started with and keeps certificate results for its own life only, which is one verification run
(`edms.verifier.memo`).
"""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from edms.verifier import cms as verifier_cms
from edms.verifier import memo
from edms.verifier.errors import Invalid
from edms.verifier.stamped import SignatureInvalid, TimestampInvalid, verify_stamped

TIMESTAMP, SIGNATURE, MALFORMED = "timestamp", "signature", "malformed"


@dataclass(frozen=True)
class Outcome:
    """`failed` is None when the cryptography holds, else which step failed (and `reason` why)."""

    failed: str | None
    reason: str
    gen_time: datetime | None
    signer: bytes | None  # the signer's certificate (DER), whenever it could be read
    chain_length: int


@dataclass(frozen=True)
class TrustBytes:
    """The trust state as bytes, to hand to a worker: roots, TSA roots, CRLs (DER)."""

    roots: tuple[bytes, ...]
    tsa_roots: tuple[bytes, ...]
    crls: tuple[bytes, ...]

    @classmethod
    def of(cls, roots: Sequence[x509.Certificate], tsa_roots: Sequence[x509.Certificate],
           crls: Sequence[x509.CertificateRevocationList]) -> TrustBytes:
        der = Encoding.DER
        return cls(tuple(c.public_bytes(der) for c in roots), tuple(c.public_bytes(der) for c in tsa_roots),
                   tuple(c.public_bytes(der) for c in crls))

    def load(self) -> tuple[list[x509.Certificate], list[x509.Certificate], list[x509.CertificateRevocationList]]:
        return ([x509.load_der_x509_certificate(c) for c in self.roots],
                [x509.load_der_x509_certificate(c) for c in self.tsa_roots],
                [x509.load_der_x509_crl(c) for c in self.crls])


def check(cms: bytes, stamp: bytes, manifest: bytes, roots: Sequence[x509.Certificate],
          tsa_roots: Sequence[x509.Certificate], crls: Sequence[x509.CertificateRevocationList]) -> Outcome:
    """Judge one stored signature's cryptography (see `verify_stamped`)."""
    try:
        result = verify_stamped(cms, stamp, manifest, roots, tsa_roots=tsa_roots, crls=crls)
    except TimestampInvalid as exc:
        return Outcome(TIMESTAMP, str(exc), None, None, 0)
    except SignatureInvalid as exc:
        return Outcome(SIGNATURE, str(exc), exc.stamped_at, _signer_or_none(cms), 0)
    except Invalid:
        return Outcome(MALFORMED, "", None, None, 0)
    return Outcome(None, "", result.stamp.gen_time, result.signed.signer_der, len(result.signed.chain))


def _signer_or_none(cms: bytes) -> bytes | None:
    try:
        return verifier_cms.signer_certificate_der(verifier_cms.signed_data(cms))[0]
    except ValueError:
        return None


# --- in a worker process --------------------------------------------------------------------------------

_worker_trust: tuple[list[x509.Certificate], list[x509.Certificate], list[x509.CertificateRevocationList]] | None = None
_worker_run: AbstractContextManager[memo.Memo] | None = None


def start_worker(trust: TrustBytes) -> None:
    """Pool initializer: the run's trust state, and a memo for the worker's life (this one run)."""
    global _worker_trust, _worker_run
    _worker_trust = trust.load()
    _worker_run = memo.shared_run()
    _worker_run.__enter__()  # left open: the worker ends with the run


def stop_worker() -> None:
    """End the worker's run (a pool's workers simply exit; this is for running a worker's part in-process)."""
    global _worker_trust, _worker_run
    if _worker_run is not None:
        _worker_run.__exit__(None, None, None)
    _worker_trust, _worker_run = None, None


def check_batch(items: Sequence[tuple[bytes, bytes, bytes]]) -> list[Outcome]:
    """`check` for each (cms, time-stamp, manifest), against the worker's trust state."""
    assert _worker_trust is not None, "start_worker first"
    roots, tsa_roots, crls = _worker_trust
    return [check(cms, stamp, manifest, roots, tsa_roots, crls) for cms, stamp, manifest in items]
