"""The integrity run's check of the archive time-stamps (`edms verify`): each signature's Evidence Record
verifies today (`edms.verifier.archive`), and each archive time-stamp has the audit event that added it."""
from __future__ import annotations

import json
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.audit.integrity import VerificationRun
from edms.audit.models import AuditEvent
from edms.errors import N_
from edms.pki.store import TrustAnchors
from edms.signatures.archive_models import ArchiveTimestamp
from edms.signatures.models import Signature
from edms.timeutil import utc_now
from edms.verifier.archive import verify_long_term
from edms.verifier.errors import Invalid
from edms.verifier.evidence import encode_evidence_record

ACTION = "signature.archive_timestamped"


def check_archive_timestamps(run: VerificationRun) -> None:
    anchors: TrustAnchors | None = run.options.get("trust")
    now = utc_now()
    with Session(bind=run.connection) as session:
        recorded = _recorded(session)
        chains: dict[int, list[ArchiveTimestamp]] = defaultdict(list)
        for row in session.scalars(select(ArchiveTimestamp).order_by(ArchiveTimestamp.signature_id,
                                                                     ArchiveTimestamp.seq)):
            chains[row.signature_id].append(row)
        for signature_id, rows in chains.items():
            run.examined("archive_timestamp", len(rows))
            signature = session.get(Signature, signature_id)
            key = signature.signature_id if signature is not None else str(signature_id)
            for row in rows:
                if (key, row.seq) not in recorded:
                    run.problem("archive_timestamp", f"{key}#{row.seq}",
                                N_("no audit event records this archive time-stamp (the row was written outside edms)"))
            if signature is None or anchors is None:
                continue
            if [row.seq for row in rows] != list(range(1, len(rows) + 1)):
                run.problem("archive_timestamp", key, N_("the archive time-stamps of this signature have a gap"))
                continue
            tsa_roots = tuple(dict.fromkeys([*anchors.roots, *anchors.tsa_roots]))
            try:
                verify_long_term(signature.manifest, signature.cms, signature.timestamp_response,
                                 encode_evidence_record([row.archive_stamp for row in rows]), anchors.roots,
                                 at=now, tsa_roots=tsa_roots)
            except Invalid as exc:
                run.problem("archive_timestamp", key, N_("the archive time-stamps of this signature do not verify: "
                                                         "%(reason)s"), reason=str(exc))


def _recorded(session: Session) -> set[tuple[str, int]]:
    found = set()
    for (changes,) in session.execute(select(AuditEvent.changes).where(AuditEvent.action == ACTION)):
        if changes is None:
            continue
        try:
            new = json.loads(changes)["archive_timestamp"]["new"]
            found.add((new["signature_id"], int(new["seq"])))
        except (TypeError, ValueError, KeyError):
            continue  # a damaged event is the audit chain check's finding
    return found
