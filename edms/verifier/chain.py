"""Certificate chains: building one to a trusted root, validity and CA constraints, and revocation by CRL,
all judged at one moment (the time-stamped moment of a signature, never today's date).

The CRL rule (one rule for the application, `edms verify` and the offline verifier):
- a CRL counts only when it is signed by the certificate's issuer;
- a revocation it lists at or before the moment judged fails the certificate, however old the CRL;
- a CRL issued (thisUpdate) before the moment judged is refused: it says nothing about revocations
  between its issue and that moment, so it cannot show the certificate was unrevoked then. A verifier
  must not pass a signature on the strength of evidence older than the signature. Whoever judges must
  supply a CRL issued at or after the moment (the inspection package carries one made at export).
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import pairwise
from typing import TypeVar

from cryptography import x509
from cryptography.x509.oid import NameOID

from edms.verifier import memo
from edms.verifier.errors import Invalid

MAX_CHAIN = 8

_Extension = TypeVar("_Extension", bound=x509.ExtensionType)


def describe(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def utc(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def extension(cert: x509.Certificate, kind: type[_Extension]) -> x509.Extension[_Extension] | None:
    try:
        return cert.extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return None


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Names and signature; checked once per run for the same two certificates (see `edms.verifier.memo`)."""
    return memo.issued_by(cert, issuer)


def build_chain(leaf: x509.Certificate, untrusted: Sequence[x509.Certificate],
                roots: Sequence[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    """leaf, its issuers..., a trusted root; the untrusted certificates only help to find the way."""
    chain = [leaf]
    candidates = [*roots, *untrusted]
    while chain[-1] not in roots:
        issuer = next((c for c in candidates if c not in chain and issued_by(chain[-1], c)), None)
        # A self-signed certificate that is not a root finds only itself: that chain ends untrusted.
        if issuer is None or len(chain) >= MAX_CHAIN:
            raise Invalid(f"the certificate of {describe(chain[-1])} does not chain to a trusted root")
        chain.append(issuer)
    return tuple(chain)


def check_chain(chain: Sequence[x509.Certificate], at: datetime) -> None:
    """Every certificate valid at `at`; the leaf may sign; every issuer is a CA within its path length."""
    for cert in chain:
        if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            raise Invalid(f"the certificate of {describe(cert)} is not valid on {utc(at)} (valid "
                          f"{utc(cert.not_valid_before_utc)} to {utc(cert.not_valid_after_utc)})")
    check_constraints(chain)


def check_constraints(chain: Sequence[x509.Certificate]) -> None:
    """What `check_chain` checks whatever the moment: the leaf may sign, the issuers are CAs within their path length."""
    usage = extension(chain[0], x509.KeyUsage)
    if usage is not None and not (usage.value.digital_signature or usage.value.content_commitment):
        raise Invalid(f"the certificate of {describe(chain[0])} may not sign")
    for depth, issuer in enumerate(chain[1:]):
        constraints = extension(issuer, x509.BasicConstraints)
        issuer_usage = extension(issuer, x509.KeyUsage)
        if constraints is None or not constraints.value.ca or (
                issuer_usage is not None and not issuer_usage.value.key_cert_sign):
            raise Invalid(f"the certificate of {describe(issuer)} is not a CA certificate")
        # `depth` counts the CA certificates below this issuer in the chain.
        if constraints.value.path_length is not None and depth > constraints.value.path_length:
            raise Invalid(f"the chain below {describe(issuer)} exceeds its path length")


def check_revocation(chain: Sequence[x509.Certificate], crls: Sequence[x509.CertificateRevocationList],
                     at: datetime) -> None:
    """The CRL rule in this module's docstring, for every certificate of the chain and its issuer's CRLs."""
    for position, (cert, issuer) in enumerate(pairwise(chain)):
        whose = "signer certificate" if position == 0 else f"CA certificate of {describe(cert)}"
        for crl in crls:
            if crl.issuer != issuer.subject:
                continue
            if not memo.crl_signed_by(crl, issuer):
                raise Invalid(f"the CRL of {describe(issuer)} is not signed by it")
            entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
            if entry is not None and entry.revocation_date_utc <= at:
                raise Invalid(f"{whose} revoked on {utc(entry.revocation_date_utc)}")
            # CRL times have whole seconds: one issued in the second of the moment judged covers it.
            if crl.last_update_utc < at.replace(microsecond=0):
                raise Invalid(f"the CRL of {describe(issuer)} ({utc(crl.last_update_utc)}) predates {utc(at)}: it "
                              "cannot show the certificate was unrevoked then")


def verify_chain(leaf: x509.Certificate, untrusted: Sequence[x509.Certificate], roots: Sequence[x509.Certificate],
                 crls: Sequence[x509.CertificateRevocationList], at: datetime) -> tuple[x509.Certificate, ...]:
    """Build, check and judge the revocation of the leaf's chain at `at`; the chain, or Invalid.

    Inside a shared run (`edms.verifier.memo`) what does not depend on `at` is judged once per (certificates,
    roots, CRLs), all keyed by their exact bytes (`ChainJudgement`); each moment is then only placed in it."""
    if memo.active() is None:
        chain = build_chain(leaf, untrusted, roots)
        check_chain(chain, at)
        check_revocation(chain, crls, at)
        return chain
    return memo.chain_judgement(leaf, untrusted, roots, crls, ChainJudgement).at(at)


class ChainJudgement:
    """`build_chain`, `check_chain` and `check_revocation` for one leaf, helpers, roots and CRLs, judged
    once: the window in which every certificate of the chain is valid, the checks that do not depend on
    the moment (key usage, CA constraints, path length; which CRLs count and are signed by the issuer),
    and each CRL's revocation date and issue time, in the reference's order. `at(moment)` then raises
    exactly what the reference raises for that moment: a moment outside the window is judged by
    `check_chain` itself, everything else by comparing times in the same order and with the same messages.
    An exception met while judging (a malformed extension, say) is raised again where the reference meets it."""

    def __init__(self, leaf: x509.Certificate, untrusted: Sequence[x509.Certificate],
                 roots: Sequence[x509.Certificate], crls: Sequence[x509.CertificateRevocationList]) -> None:
        self.chain: tuple[x509.Certificate, ...] = ()
        self.unbuilt: Exception | None = None
        try:
            self.chain = build_chain(leaf, untrusted, roots)
        except Exception as exc:  # raised again for every moment, as the reference would
            self.unbuilt = exc
            return
        self.window: tuple[datetime, datetime] | None = None
        self.constraints: Exception | None = None
        try:
            self.window = (max(cert.not_valid_before_utc for cert in self.chain),
                           min(cert.not_valid_after_utc for cert in self.chain))
            check_constraints(self.chain)
        except Exception as exc:
            self.constraints = exc
        # (revocation date or None, its message, the CRL's thisUpdate, the issuer's name), or an exception
        self.revocation: list[tuple[datetime | None, str, datetime, str] | Exception] = []
        try:
            self._judge_crls(crls)
        except Exception as exc:
            self.revocation.append(exc)

    def _judge_crls(self, crls: Sequence[x509.CertificateRevocationList]) -> None:
        for position, (cert, issuer) in enumerate(pairwise(self.chain)):
            whose = "signer certificate" if position == 0 else f"CA certificate of {describe(cert)}"
            for crl in crls:
                if crl.issuer != issuer.subject:
                    continue
                if not memo.crl_signed_by(crl, issuer):
                    self.revocation.append(Invalid(f"the CRL of {describe(issuer)} is not signed by it"))
                    return
                entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
                revoked = None if entry is None else entry.revocation_date_utc
                message = "" if revoked is None else f"{whose} revoked on {utc(revoked)}"
                self.revocation.append((revoked, message, crl.last_update_utc, describe(issuer)))

    def at(self, at: datetime) -> tuple[x509.Certificate, ...]:
        if self.unbuilt is not None:
            raise self.unbuilt.with_traceback(None)
        if self.window is None or not self.window[0] <= at <= self.window[1]:
            # Outside the window the reference raises for the first certificate not valid (and without a
            # window, because reading one failed, the reference judges the whole moment).
            check_chain(self.chain, at)
        elif self.constraints is not None:
            raise self.constraints.with_traceback(None)
        for step in self.revocation:
            if isinstance(step, Exception):
                raise step.with_traceback(None)
            revoked, message, last_update, issuer = step
            if revoked is not None and revoked <= at:
                raise Invalid(message)
            if last_update < at.replace(microsecond=0):
                raise Invalid(f"the CRL of {issuer} ({utc(last_update)}) predates {utc(at)}: it "
                              "cannot show the certificate was unrevoked then")
        return self.chain
