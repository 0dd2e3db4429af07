"""The PKI's life over the retention period: renewing the TSA certificate and rolling the root over.

Records must stay verifiable for decades, far longer than the TSA certificate (10 years) and the root
(20 years). Before one expires the administrator renews it (`edms pki renew-tsa`, `edms pki
rollover-root`, audited by `edms.application.pki_lifecycle`); `edms archive-timestamps` then re-stamps the
evidence with the new TSA while the old chain is still valid. A replaced certificate and its key move to
`<pki>/retired/`: signatures made under it keep chaining to it, and a retired CA still signs the CRLs that
show its certificates unrevoked until it expires. The system certificate (audit checkpoints) is kept.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from edms.crypto.keywrap import PBKDF2_ITERATIONS, encrypt_private_key_pem
from edms.crypto.pki import (
    build_crl,
    create_intermediate_ca,
    create_root_ca,
    create_tsa_certificate,
    generate_private_key,
)
from edms.pki.store import RETIRED_DIRNAME, ROOT, SIGNING_CA, TSA, PkiError, PkiStore, _write_private
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
    key = generate_private_key()
    cert = create_tsa_certificate(store.certificate(ROOT), store.private_key(ROOT), key.public_key(),
                                  org_name=organisation, now=now)
    return _replace(store, {TSA: (key, cert)}, now, kdf_iterations)


def rollover_root(store: PkiStore, organisation: str, *, now: datetime | None = None,
                  kdf_iterations: int = PBKDF2_ITERATIONS) -> list[Replacement]:
    """A new root, and under it a new signing CA and a new TSA; the old ones retired (still trusted for
    what they signed). Certificates already issued to people stay valid until they expire."""
    now = require_aware(now or utc_now())
    generation = f"{now:%Y-%m-%d}"
    root_key, ca_key, tsa_key = generate_private_key(), generate_private_key(), generate_private_key()
    root = create_root_ca(root_key, org_name=organisation, now=now, generation=generation)
    if any(root.subject == old.subject for old in (store.certificate(ROOT), *store.retired_certificates(ROOT))):
        raise PkiError(f"a root named {root.subject.rfc4514_string()} exists already: one rollover a day")
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
    retired = store.directory / RETIRED_DIRNAME
    retired.mkdir(mode=0o700, exist_ok=True)
    # A generation number first, so that the names sort in the order of the replacements (newest last).
    generation = 1 + max((int(path.name.split("-", 1)[0]) for path in retired.glob("*.cert.pem")
                          if path.name.split("-", 1)[0].isdigit()), default=0)
    prefix = f"{generation:04d}-{now:%Y%m%dT%H%M%SZ}"
    staged = []
    for name, (key, cert) in new.items():
        cert_tmp = store.directory / f".{name}.cert.pem.new"
        key_tmp = store.directory / f".{name}.key.pem.new"
        cert_tmp.unlink(missing_ok=True)
        key_tmp.unlink(missing_ok=True)
        cert_tmp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_private(key_tmp, encrypt_private_key_pem(key, store.passphrase(), iterations=kdf_iterations))
        staged.append((name, cert_tmp, key_tmp))
    for name, cert_tmp, key_tmp in staged:
        for current, tmp in ((store.cert_file(name), cert_tmp), (store.key_file(name), key_tmp)):
            (store.directory / current).rename(retired / f"{prefix}-{current}")
            tmp.rename(store.directory / current)
    return [Replacement(name, old[name], cert) for name, (_, cert) in new.items()]
