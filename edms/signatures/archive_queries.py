"""Reading the archive time-stamps of signatures: a signature's Evidence Record, and which signatures
the archiver must look at."""
from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from edms.signatures.archive_models import ArchiveTimestamp
from edms.signatures.models import Signature
from edms.verifier.evidence import encode_evidence_record


def archive_stamps(session: Session, signature_id: int) -> list[bytes]:
    """The signature's ArchiveTimeStamps (DER), oldest first."""
    return list(session.scalars(select(ArchiveTimestamp.archive_stamp)
                                .where(ArchiveTimestamp.signature_id == signature_id).order_by(ArchiveTimestamp.seq)))


def evidence_record(session: Session, signature_id: int) -> bytes | None:
    """The signature's RFC 4998 Evidence Record, or None before its first archive time-stamp."""
    stamps = archive_stamps(session, signature_id)
    return encode_evidence_record(stamps) if stamps else None


def evidence_records(session: Session, signature_ids: Collection[int]) -> dict[int, bytes]:
    """`evidence_record` of each of these signatures that has archive time-stamps, read in one query."""
    stamps: dict[int, list[bytes]] = {}
    for signature_id, stamp in session.execute(
            select(ArchiveTimestamp.signature_id, ArchiveTimestamp.archive_stamp)
            .where(ArchiveTimestamp.signature_id.in_(list(signature_ids)))
            .order_by(ArchiveTimestamp.signature_id, ArchiveTimestamp.seq)) if signature_ids else ():
        stamps.setdefault(signature_id, []).append(stamp)
    return {signature_id: encode_evidence_record(found) for signature_id, found in stamps.items()}


def archive_rows(session: Session, signature_id: int) -> list[ArchiveTimestamp]:
    return list(session.scalars(select(ArchiveTimestamp).where(ArchiveTimestamp.signature_id == signature_id)
                                .order_by(ArchiveTimestamp.seq)))


def signatures_to_examine(session: Session, now: datetime, renew_before: timedelta, *,
                          everything: bool = False, batch: int = 500) -> Iterator[int]:
    """Ids of the signatures whose evidence may need a new archive time-stamp: those without one, and those
    whose newest one's chain expires within `renew_before` (or all of them, when an algorithm is retired)."""
    newest = (select(ArchiveTimestamp.signature_id, func.max(ArchiveTimestamp.valid_until).label("valid_until"))
              .group_by(ArchiveTimestamp.signature_id).subquery())
    query = select(Signature.id).outerjoin(newest, newest.c.signature_id == Signature.id)
    if not everything:
        query = query.where((newest.c.valid_until.is_(None)) | (newest.c.valid_until <= now + renew_before))
    last = 0
    while True:
        ids = list(session.scalars(query.where(Signature.id > last).order_by(Signature.id).limit(batch)))
        yield from ids
        if len(ids) < batch:
            return
        last = ids[-1]
