"""Verifying once per run what many signatures share: certificates, the signatures on them and on CRLs.

An archive holds thousands of signatures by a few dozen people under one CA and one TSA: parsing the same
certificate, checking the CA's signature on it and the CA's signature on its CRL again for each of them
is most of the work. Inside `shared_run()` these results are kept for the rest of the run, keyed by the
exact DER bytes involved (the certificate and the issuer's certificate, the CRL and the issuer's
certificate), so a result is reused only for the very same bytes. A chain is judged once per (leaf,
helpers, roots, CRLs), again keyed by their bytes, into what does not depend on the moment: the window in
which all its certificates are valid, its constraints, each CRL's revocation date and issue time
(`edms.verifier.chain.ChainJudgement`); each signature's stamped moment is then only placed in it.

Outside `shared_run()` nothing is kept (the reference path). A run's memory ends with the run: nothing
is written anywhere, so a later run (`edms verify` is a new process) starts from nothing.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding

_T = TypeVar("_T")
# Enough for every person's certificate of a large organisation; past it a run starts afresh (never wrong).
MAX_ENTRIES = 50_000
# Parsed structures (CMS, tokens) are unique to each signature: only the last few are kept, so that one
# signature's CMS and token are each read once although several steps look at them.
MAX_PARSED = 8


class Memo:
    """The results one run keeps. Use through `shared_run()`; the functions below consult it."""

    def __init__(self) -> None:
        self.certificates: dict[bytes, x509.Certificate] = {}
        self.issued: dict[tuple[x509.Certificate, x509.Certificate], bool] = {}
        self.crl_signed: dict[tuple[bytes, x509.Certificate], bool] = {}
        self.crl_bytes: dict[int, tuple[x509.CertificateRevocationList, bytes]] = {}
        self.certificate_bytes: dict[int, tuple[x509.Certificate, bytes]] = {}
        self.sequence_bytes: dict[int, tuple[tuple[object, ...], tuple[bytes, ...]]] = {}
        self.parsed: dict[tuple[str, Hashable], object] = {}
        self.chains: dict[tuple[object, ...], object] = {}
        self.derived: dict[tuple[str, Hashable], object] = {}
        self.hits = 0
        self.misses = 0

    def _room(self, table: dict) -> None:  # type: ignore[type-arg]
        if len(table) >= MAX_ENTRIES:
            table.clear()


_active: ContextVar[Memo | None] = ContextVar("edms_verifier_memo", default=None)


@contextmanager
def shared_run() -> Iterator[Memo]:
    """Keep shared results until the block ends. Nested blocks share the outer run's memo."""
    memo = _active.get()
    if memo is not None:
        yield memo
        return
    memo = Memo()
    token = _active.set(memo)
    try:
        yield memo
    finally:
        _active.reset(token)


def active() -> Memo | None:
    return _active.get()


def certificate(der: bytes) -> x509.Certificate:
    """The parsed certificate (ValueError when malformed, never kept)."""
    memo = _active.get()
    if memo is None:
        return x509.load_der_x509_certificate(der)
    cert = memo.certificates.get(der)
    if cert is None:
        memo.misses += 1
        cert = x509.load_der_x509_certificate(der)
        memo._room(memo.certificates)
        memo.certificates[der] = cert
    else:
        memo.hits += 1
    return cert


def _directly_issued(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Does `issuer`'s key sign `cert` (names and signature)? Certificates compare and hash by their DER."""
    memo = _active.get()
    if memo is None:
        return _directly_issued(cert, issuer)
    key = (cert, issuer)
    known = memo.issued.get(key)
    if known is None:
        memo.misses += 1
        known = _directly_issued(cert, issuer)
        memo._room(memo.issued)
        memo.issued[key] = known
    else:
        memo.hits += 1
    return known


def crl_signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    """Is `crl` signed by `issuer`'s key? (Whether it names the issuer is the caller's question.)"""
    memo = _active.get()
    if memo is None:
        return crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    key = (_crl_der(memo, crl), issuer)
    known = memo.crl_signed.get(key)
    if known is None:
        memo.misses += 1
        known = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
        memo._room(memo.crl_signed)
        memo.crl_signed[key] = known
    else:
        memo.hits += 1
    return known


def _crl_der(memo: Memo, crl: x509.CertificateRevocationList) -> bytes:
    held = memo.crl_bytes.get(id(crl))
    if held is None or held[0] is not crl:
        memo._room(memo.crl_bytes)
        held = memo.crl_bytes[id(crl)] = (crl, crl.public_bytes(Encoding.DER))  # the CRL is held: its id stays its own
    return held[1]


def _certificate_der(memo: Memo, cert: x509.Certificate) -> bytes:
    """The certificate's DER (what it compares and hashes by), read once per object: hashing a Certificate
    object hashes its contents every time, hashing the bytes once."""
    held = memo.certificate_bytes.get(id(cert))
    if held is None or held[0] is not cert:
        memo._room(memo.certificate_bytes)
        held = memo.certificate_bytes[id(cert)] = (cert, cert.public_bytes(Encoding.DER))  # held: its id stays its own
    return held[1]


def _sequence_der(memo: Memo, items: Sequence[_T], der_of: Callable[[Memo, _T], bytes]) -> tuple[bytes, ...]:
    """The DER of each item: for a tuple (the run's roots and CRLs, the same objects for every signature), read once
    per tuple object; a tuple of certificates or CRLs cannot change, and it is held: its id stays its own."""
    if type(items) is not tuple:
        return tuple([der_of(memo, item) for item in items])
    held = memo.sequence_bytes.get(id(items))
    if held is None or held[0] is not items:
        memo._room(memo.sequence_bytes)
        held = memo.sequence_bytes[id(items)] = (items, tuple([der_of(memo, item) for item in items]))
    return held[1]


def chain_judgement(leaf: x509.Certificate, untrusted: Sequence[x509.Certificate], roots: Sequence[x509.Certificate],
                    crls: Sequence[x509.CertificateRevocationList],
                    judge: Callable[[x509.Certificate, Sequence[x509.Certificate], Sequence[x509.Certificate],
                                     Sequence[x509.CertificateRevocationList]], _T]) -> _T:
    """`judge(leaf, untrusted, roots, crls)` (what a chain is whatever the moment: `edms.verifier.chain`), once per
    run for the same certificates, roots and CRLs, keyed by their exact bytes (certificates compare by DER).
    Only inside a shared run."""
    memo = _active.get()
    assert memo is not None, "inside shared_run() only"
    key = (_certificate_der(memo, leaf), tuple([_certificate_der(memo, cert) for cert in untrusted]),
           _sequence_der(memo, roots, _certificate_der), _sequence_der(memo, crls, _crl_der))
    known = memo.chains.get(key)
    if known is None:
        memo.misses += 1
        known = judge(leaf, untrusted, roots, crls)
        memo._room(memo.chains)
        memo.chains[key] = known
    else:
        memo.hits += 1
    return known  # type: ignore[return-value]


def shared(kind: str, der: bytes, compute: Callable[[bytes], _T]) -> _T:
    """`compute(der)` for something many signatures share (a certificate's issuer name, a certificate set),
    once per run for the same bytes (errors propagate and are not kept); outside a run, always computed."""
    memo = _active.get()
    if memo is None:
        return compute(der)
    key = (kind, der)
    if key in memo.derived:
        memo.hits += 1
        return memo.derived[key]  # type: ignore[return-value]
    memo.misses += 1
    value = compute(der)
    memo._room(memo.derived)
    memo.derived[key] = value
    return value


def keyed(kind: str, key: Hashable, compute: Callable[[], _T]) -> _T:
    """`compute()` for a result that depends only on `key` (exact bytes, or tuples of them), once per run
    (errors propagate and are not kept); outside a run, always computed."""
    memo = _active.get()
    if memo is None:
        return compute()
    full = (kind, key)
    if full in memo.derived:
        memo.hits += 1
        return memo.derived[full]  # type: ignore[return-value]
    memo.misses += 1
    value = compute()
    memo._room(memo.derived)
    memo.derived[full] = value
    return value


def recent(kind: str, key: Hashable, compute: Callable[..., _T], *arguments: Any) -> _T:
    """`compute(*arguments)` for a result that depends only on `key` (exact bytes, or tuples of them), kept for the
    last few keys of a run (what is unique to one signature but looked at more than once, e.g. by the offline
    verifier's two judgements of it); errors propagate and are not kept; outside a run, always computed. (The
    arguments are passed, not bound in a lambda: this runs a few times for every signature.)"""
    memo = _active.get()
    if memo is None:
        return compute(*arguments)
    full = (kind, key)
    if full in memo.parsed:
        return memo.parsed[full]  # type: ignore[return-value]
    value = compute(*arguments)
    if len(memo.parsed) >= MAX_PARSED:
        del memo.parsed[next(iter(memo.parsed))]
    memo.parsed[full] = value
    return value


def certificate_der(cert: x509.Certificate) -> bytes:
    """The certificate's DER, read once per object inside a run."""
    memo = _active.get()
    return cert.public_bytes(Encoding.DER) if memo is None else _certificate_der(memo, cert)

