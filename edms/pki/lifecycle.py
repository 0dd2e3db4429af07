"""The PKI's life over the retention period: renewing the TSA certificate and rolling the root over.

Records must stay verifiable for decades, far longer than the TSA certificate (10 years) and the root
(20 years). Before one expires the administrator renews it (`edms pki renew-tsa`, `edms pki
rollover-root`, audited by `edms.application.pki_lifecycle`); `edms archive-timestamps` then re-stamps the
evidence with the new TSA while the old chain is still valid. A replaced certificate and its key move to
the store's retired ones (`<pki>/retired/`, or relabelled objects in the HSM): signatures made under it keep
chaining to it, and a retired CA still signs the CRLs that show its certificates unrevoked until it expires.
The system certificate (audit checkpoints) is kept.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from edms.crypto.keywrap import PBKDF2_ITERATIONS
from edms.crypto.pki import build_crl, create_intermediate_ca, create_root_ca, create_tsa_certificate
from edms.pki.store import ROOT, SIGNING_CA, TSA, PkiError, PkiStore
from edms.timeutil import require_aware, utc_now

CRL_VALIDITY = timedelta(days=7)


@dataclass(frozen=True)
class Replacement:
    """One certificate replaced: what it was, what it is now."""

    name: str
    old: x509.Certificate
    new: x509.Certificate


def renew_tsa(store: PkiStore, organisation: str, *, now: datetime | None = None,
              kdf_iterations: int = PBKDF2_ITERATIONS) -> list[Replacement]:
    """A new TSA key and certificate under the current root; the old ones retired."""
    now = require_aware(now or utc_now())
    key = store.new_key(TSA)
    cert = create_tsa_certificate(store.certificate(ROOT), store.private_key(ROOT), key.public_key(),
                                  org_name=organisation, now=now)
    return _replace(store, {TSA: (key, cert)}, now, kdf_iterations)


def rollover_root(store: PkiStore, organisation: str, *, now: datetime | None = None,
                  kdf_iterations: int = PBKDF2_ITERATIONS) -> list[Replacement]:
    """A new root, and under it a new signing CA and a new TSA; the old ones retired (still trusted for
    what they signed). Certificates already issued to people stay valid until they expire."""
    now = require_aware(now or utc_now())
    generation = f"{now:%Y-%m-%d}"
    subject = create_root_ca(ec.generate_private_key(ec.SECP256R1()), org_name=organisation, now=now,
                             generation=generation).subject  # checked before any key is made in the store
    if any(subject == old.subject for old in (store.certificate(ROOT), *store.retired_certificates(ROOT))):
        raise PkiError(f"a root named {subject.rfc4514_string()} exists already: one rollover a day")
    root_key, ca_key, tsa_key = store.new_key(ROOT), store.new_key(SIGNING_CA), store.new_key(TSA)
    root = create_root_ca(root_key, org_name=organisation, now=now, generation=generation)
    ca = create_intermediate_ca(root, root_key, ca_key.public_key(), org_name=organisation, now=now,
                                generation=generation)
    tsa = create_tsa_certificate(root, root_key, tsa_key.public_key(), org_name=organisation, now=now)
    return _replace(store, {ROOT: (root_key, root), SIGNING_CA: (ca_key, ca), TSA: (tsa_key, tsa)}, now,
                    kdf_iterations)


def issue_crl(store: PkiStore, issuer: x509.Certificate, revoked: list[tuple[int, datetime]],
              now: datetime) -> x509.CertificateRevocationList:
    """A CRL of a current or retired CA, issued now, listing exactly `revoked`."""
    return build_crl(issuer, store.key_of(issuer), revoked, now, now + CRL_VALIDITY)


def _replace(store: PkiStore, new: dict[str, tuple[ec.EllipticCurvePrivateKey, x509.Certificate]], now: datetime,
             kdf_iterations: int) -> list[Replacement]:
    old = {name: store.certificate(name) for name in new}
    store.install(new, now, kdf_iterations=kdf_iterations)
    return [Replacement(name, old[name], cert) for name, (_, cert) in new.items()]
