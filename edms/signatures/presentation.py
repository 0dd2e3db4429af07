"""How signatures appear with the records they sign (21 CFR 11.50): on screen, in renditions, over the API.

Every manifestation carries the printed name, the date and time (UTC here; shown in the viewer's zone
with the zone), the meaning, the step and role, the signature id and the verification result, computed
when shown. Renditions get them from `rendition_signatures`, passed in by the caller, so documents never
import signatures.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.documents import models as dm
from edms.documents.queries import version_hash
from edms.documents.renditions import RenditionSignature
from edms.documents.types import SIGNATURE_MEANINGS, SIGNING_ROLES, DocumentType, LocalizedText
from edms.pki.store import ROOT, SIGNING_CA, PkiError, PkiStore, trust_anchors
from edms.signatures.keys import certificate_of, revocations
from edms.signatures.manifest import REJECTION, ManifestError, parse_manifest
from edms.signatures.models import Signature, SigningCredential
from edms.signatures.verification import Trust, Verdict, verify_signature, verify_stored
from edms.timeutil import format_in_zone, isoformat_utc, parse_utc


def current_trust(session: Session, settings, revoked: Sequence[tuple[int, datetime]] | None = None) -> Trust | None:
    """The anchors and revocation records of the organisation PKI; None without a PKI. `revoked`: the records
    as `revocations` gives them, already read in this transaction (else they are read here).

    The revocation records judge revocation, current to this moment. No CRL is passed: the served one is
    issued once a day (`revocation_list`), and a CRL issued before a signature is refused by the
    verifier's CRL rule (`edms.verifier.chain`); it would add nothing the records do not say."""
    try:
        anchors = trust_anchors(settings)
    except PkiError:
        return None
    if anchors is None:
        return None
    return Trust(anchors, dict(revocations(session) if revoked is None else revoked))


@dataclass(frozen=True)
class OnBehalfOf:
    """The absent person a signature was made for, and the delegation it was made under (from the manifest)."""

    printed_name: str
    username: str
    delegation_id: int
    valid_from: datetime
    valid_until: datetime

    @classmethod
    def from_manifest(cls, delegation: dict[str, Any] | None) -> OnBehalfOf | None:
        if delegation is None:
            return None
        return cls(delegation["on_behalf_of_printed_name"], delegation["on_behalf_of_username"],
                   delegation["delegation_id"], parse_utc(delegation["valid_from"]),
                   parse_utc(delegation["valid_until"]))

    def text(self, zone: str) -> str:
        return (f"{self.printed_name} (delegation {self.delegation_id}, {format_in_zone(self.valid_from, zone)} to "
                f"{format_in_zone(self.valid_until, zone)})")


@dataclass(frozen=True)
class Manifestation:
    signature_id: str
    kind: str
    step: str
    step_label: LocalizedText | None
    meaning: str
    meaning_label: LocalizedText | None
    role: str
    role_label: LocalizedText | None
    printed_name: str
    username: str
    signed_at: datetime
    timestamped_at: datetime
    comment: str | None
    verdict: Verdict
    on_behalf_of: OnBehalfOf | None = None

    @property
    def rejection(self) -> bool:
        return self.kind == REJECTION


def manifestations(session: Session, version: dm.DocumentVersion, trust: Trust | None,
                   doc_type: DocumentType | None = None) -> list[Manifestation]:
    """The version's signatures in the order they were made, each verified now against the rows it claims
    (as `verify_stored`): their credentials loaded in one query, the version's content hash recomputed once
    for all of them."""
    rows = session.scalars(select(Signature).where(Signature.version_id == version.id).order_by(Signature.id)).all()
    if not rows:
        return []
    if trust is None:
        return [manifestation(session, row, trust, doc_type) for row in rows]
    ids = {row.credential_id for row in rows} - {None}
    credentials = {credential.id: credential for credential in session.scalars(
        select(SigningCredential).where(SigningCredential.id.in_(ids)))} if ids else {}
    document = version.document
    content_sha256 = version_hash(document, version)  # from the version's content now, once for all its signatures
    return [_shown(row, verify_signature(row, document=document, version=version,
                                         credential=credentials.get(row.credential_id), trust=trust,
                                         content_sha256=content_sha256), doc_type)
            for row in rows]


def manifestation(session: Session, row: Signature, trust: Trust | None,
                  doc_type: DocumentType | None = None) -> Manifestation:
    return _shown(row, verify_stored(session, row, trust), doc_type)


def _shown(row: Signature, verdict: Verdict, doc_type: DocumentType | None) -> Manifestation:
    try:
        signed = parse_manifest(row.manifest)
        printed_name, username, role = signed.signer_printed_name, signed.signer_username, signed.signer_role
        on_behalf_of = OnBehalfOf.from_manifest(signed.delegation)
    except ManifestError:
        printed_name, username, role, on_behalf_of = "?", "?", "?", None
    step = next((s for s in doc_type.steps if s.name == row.step), None) if doc_type else None
    return Manifestation(
        signature_id=row.signature_id, kind=row.kind, step=row.step, step_label=step.label if step else None,
        meaning=row.meaning, meaning_label=SIGNATURE_MEANINGS.get(row.meaning), role=role,
        role_label=SIGNING_ROLES.get(role), printed_name=printed_name, username=username, signed_at=row.signed_at,
        timestamped_at=row.timestamped_at, comment=row.comment, verdict=verdict, on_behalf_of=on_behalf_of,
    )


def manifestation_json(item: Manifestation) -> dict[str, Any]:
    return {
        "signature_id": item.signature_id,
        "kind": item.kind,
        "step": item.step,
        "step_label": item.step_label.en if item.step_label else item.step,
        "meaning": item.meaning,
        "meaning_label": item.meaning_label.en if item.meaning_label else item.meaning,
        "role": item.role,
        "printed_name": item.printed_name,
        "username": item.username,
        "signed_at": isoformat_utc(item.signed_at),
        "timestamped_at": isoformat_utc(item.timestamped_at),
        "comment": item.comment,
        "on_behalf_of": None if item.on_behalf_of is None else {
            "printed_name": item.on_behalf_of.printed_name, "username": item.on_behalf_of.username,
            "delegation_id": item.on_behalf_of.delegation_id,
            "valid_from": isoformat_utc(item.on_behalf_of.valid_from),
            "valid_until": isoformat_utc(item.on_behalf_of.valid_until)},
        "verification": {"valid": item.verdict.ok, "status": item.verdict.status, "reason": item.verdict.text},
    }


def chain_pem(credential: SigningCredential, settings) -> bytes:
    """The signer's certificate, the signing CA and the root: what `openssl verify` needs."""
    store = PkiStore.for_settings(settings)
    chain = [certificate_of(credential), store.certificate(SIGNING_CA), store.certificate(ROOT)]
    return b"".join(cert.public_bytes(Encoding.PEM) for cert in chain)


def rendition_signatures(session: Session, version: dm.DocumentVersion, trust: Trust | None,
                         doc_type: DocumentType | None, display_tz: str) -> list[RenditionSignature]:
    """The manifestations a rendition prints, each with its verification under `trust`."""
    return as_rendition_signatures(manifestations(session, version, trust, doc_type), display_tz)


def as_rendition_signatures(items: Sequence[Manifestation], display_tz: str) -> list[RenditionSignature]:
    """Manifestations already verified (a version's, in the order they were made), as a rendition prints them:
    the inspection package passes those its history verified, so that no signature is verified twice."""
    return [
        RenditionSignature(printed_name=item.printed_name, role=item.role, meaning=item.meaning,
                           signed_at=item.signed_at, display_tz=display_tz, signature_id=item.signature_id,
                           status=item.verdict.status, step=item.step, kind=item.kind, comment=item.comment or "",
                           on_behalf_of=item.on_behalf_of.text(display_tz) if item.on_behalf_of else "")
        for item in items
    ]

