"""The administrator's acts on the organisation PKI over the retention period: renewing the TSA
certificate and rolling the root over (`edms pki renew-tsa`, `edms pki rollover-root`), each audited
with the old and the new certificate. The running server keeps the keys it opened until it restarts."""
from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from sqlalchemy.orm import Session

from edms.application.services import Services
from edms.application.unit_of_work import use_case
from edms.audit import AuditContext, record
from edms.pki import lifecycle
from edms.pki.store import PkiStore
from edms.timeutil import isoformat_utc


def _described(cert: x509.Certificate) -> dict[str, str]:
    return {"subject": cert.subject.rfc4514_string(), "serial": format(cert.serial_number, "x"),
            "sha256": cert.fingerprint(hashes.SHA256()).hex(), "not_after": isoformat_utc(cert.not_valid_after_utc)}


def _audit(session: Session, ctx: AuditContext, action: str, reason: str,
           replaced: list[lifecycle.Replacement]) -> None:
    record(session, ctx, action, "pki", replaced[0].name, reason=reason,
           changes={f"{item.name}_certificate": {"old": _described(item.old), "new": _described(item.new)}
                    for item in replaced})


def renew_tsa(services: Services, session: Session, ctx: AuditContext, *, reason: str) -> list[lifecycle.Replacement]:
    """A new key and certificate for the internal TSA, under the current root."""
    with use_case(session):
        replaced = lifecycle.renew_tsa(PkiStore.for_settings(services.settings), services.settings.organisation)
        _audit(session, ctx, "pki.tsa_renewed", reason, replaced)
        return replaced


def rollover_root(services: Services, session: Session, ctx: AuditContext, *,
                  reason: str) -> list[lifecycle.Replacement]:
    """A new root with a new signing CA and TSA under it; the old ones stay trusted for what they signed."""
    with use_case(session):
        replaced = lifecycle.rollover_root(PkiStore.for_settings(services.settings), services.settings.organisation)
        _audit(session, ctx, "pki.root_rolled_over", reason, replaced)
        return replaced
