"""The signatures check of a verification run (`edms verify`, the audit verification page): every stored
signature, streamed in keyset batches, judged as `edms.signatures.verification` judges one.

How it stays fast on a large archive without changing what is judged:
- the cryptography of a batch (time-stamp, CMS, chains, revocation at the stamped time) is judged by
  worker processes (one per CPU) while this process reads the next batch and judges the link of the
  previous one to its record; small archives are judged in this process;
- what many signatures share (certificates, the CA's signatures on them and on its CRLs) is checked
  once per run, keyed by the exact bytes (`edms.verifier.memo`); nothing is reused from an earlier run,
  not even the in-process cache the pages use;
- the rows a batch links to (versions, documents, credentials) are read in one query each, and each
  version's content hash is recomputed once per batch however many signatures it carries.
Memory holds a few batches, whatever the size of the archive, plus one entry per signature recorded in
the audit trail (to find signatures that were removed).
"""
from __future__ import annotations

import json
import multiprocessing
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor

from sqlalchemy import func, select
from sqlalchemy.orm import Session, noload

from edms.audit.integrity import VerificationRun
from edms.audit.models import AuditEvent
from edms.documents import models as dm
from edms.documents.queries import version_hash
from edms.errors import N_
from edms.signatures import stamped_check
from edms.signatures.models import Signature, SigningCredential
from edms.signatures.verification import Trust, _Crypto, crypto_of, trust_from, verify_signature
from edms.verifier import memo
from edms.verifier.constants import SIGNED_ACTIONS

# Below this many signatures, starting worker processes costs more than it saves.
POOL_THRESHOLD = 2_000
SIGNATURE_BATCH = 500


def check_signatures(run: VerificationRun) -> None:
    """Every signature: time-stamp, CMS, certificate chain and status at the stamped time, signer identity,
    the link to its version's recomputed content hash, and the audit event that recorded it.

    Options: `trust` (None: no PKI), `batch_size`, `signature_workers`: worker processes judging the
    cryptography when the archive holds at least `signature_pool_threshold` signatures (default 0: all
    in this process). Only a command-line process asks for workers (`edms verify`): a worker is a new
    interpreter (`spawn`), which re-imports the program's main module, so a server never starts them."""
    # At most SIGNATURE_BATCH a batch (the run's batch size is the audit chain's, thousands of small rows): a
    # signature row holds a few kilobytes and a few batches are in flight at once.
    batch_size = min(run.options.get("batch_size", SIGNATURE_BATCH), SIGNATURE_BATCH)
    with Session(bind=run.connection) as session, memo.shared_run():
        anchors = run.options.get("trust")
        trust = None if anchors is None else trust_from(session, anchors)
        recorded = _recorded_signatures(session)
        workers = run.options.get("signature_workers", 0) if trust is not None else 0
        if workers and run.options.get("signature_pool_threshold", POOL_THRESHOLD) > (
                session.scalar(select(func.count()).select_from(Signature)) or 0):
            workers = 0
        first = True
        for rows, outcomes in _judged(_batches(session, batch_size), trust, workers):
            run.examined("signature", len(rows))
            if trust is None and first:
                run.problem("signature", "*", N_("the signatures cannot be checked: the organisation PKI is not "
                                                 "available (run `edms init` or restore it)"))
            first = False
            if trust is not None:
                _judge_links(run, session, rows, outcomes, trust)
            for signature in rows:
                if recorded.pop(signature.signature_id, None) is None:
                    run.problem("signature", signature.signature_id, N_("no audit event records this signature (the "
                                                                        "row was written outside edms)"))
            session.expunge_all()
        for key, seq in sorted(recorded.items(), key=lambda item: item[1]):
            run.problem("signature", key, N_("recorded in the audit trail at seq %(seq)s but missing (removed)"), seq=seq)


def _batches(session: Session, batch_size: int) -> Iterator[list[Signature]]:
    last_id = 0
    while True:
        rows = list(session.scalars(select(Signature).where(Signature.id > last_id).order_by(Signature.id)
                                    .limit(batch_size)))
        if not rows:
            return
        yield rows
        last_id = rows[-1].id


def _items(rows: Sequence[Signature]) -> list[tuple[bytes, bytes, bytes]]:
    return [(row.cms, row.timestamp_response, row.manifest) for row in rows]


def _judged(batches: Iterator[list[Signature]], trust: Trust | None,
            workers: int) -> Iterator[tuple[list[Signature], list[_Crypto] | None]]:
    """Each batch with the verdicts on its cryptography (None without trust), in order."""
    if trust is None:
        for rows in batches:
            yield rows, None
        return
    anchors = trust.anchors
    if workers <= 0:
        for rows in batches:
            yield rows, [crypto_of(stamped_check.check(cms, stamp, manifest, anchors.roots, anchors.tsa_roots,
                                                       trust.crls)) for cms, stamp, manifest in _items(rows)]
        return
    trust_bytes = stamped_check.TrustBytes.of(anchors.roots, anchors.tsa_roots, trust.crls)
    # spawn: a clean interpreter that imports only the verifier, never a copy of this process's connections.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=stamped_check.start_worker, initargs=(trust_bytes,)) as pool:
        pending: deque[tuple[list[Signature], Future[list[stamped_check.Outcome]]]] = deque()
        for rows in batches:
            pending.append((rows, pool.submit(stamped_check.check_batch, _items(rows))))
            if len(pending) > workers:
                done, future = pending.popleft()
                yield done, [crypto_of(outcome) for outcome in future.result()]
        while pending:
            done, future = pending.popleft()
            yield done, [crypto_of(outcome) for outcome in future.result()]


def _judge_links(run: VerificationRun, session: Session, rows: Sequence[Signature],
                 outcomes: Sequence[_Crypto] | None, trust: Trust) -> None:
    versions = {v.id: v for v in session.scalars(
        select(dm.DocumentVersion).where(dm.DocumentVersion.id.in_({row.version_id for row in rows})))}
    documents = {d.id: d for d in session.scalars(
        select(dm.Document).options(noload(dm.Document.versions))
        .where(dm.Document.id.in_({v.document_id for v in versions.values()})))}
    credentials = {c.id: c for c in session.scalars(
        select(SigningCredential).where(SigningCredential.id.in_({row.credential_id for row in rows})))}
    hashes: dict[int, str] = {}
    for index, signature in enumerate(rows):
        version = versions.get(signature.version_id)
        document = documents.get(version.document_id) if version is not None else None
        content_sha256 = None
        if version is not None and document is not None:
            content_sha256 = hashes.get(version.id)
            if content_sha256 is None:
                content_sha256 = hashes[version.id] = version_hash(document, version)
        verdict = verify_signature(signature, document=document, version=version,
                                   credential=credentials.get(signature.credential_id), trust=trust,
                                   crypto=None if outcomes is None else outcomes[index], content_sha256=content_sha256)
        if not verdict.ok:
            run.problem("signature", signature.signature_id, verdict.message, **verdict.params)


def _recorded_signatures(session: Session) -> dict[str, int]:
    recorded = {}
    # Streamed (yield_per): the ORM would otherwise buffer every signing event's changes at once.
    for seq, changes in session.execute(select(AuditEvent.seq, AuditEvent.changes)
                                        .where(AuditEvent.action.in_(SIGNED_ACTIONS))
                                        .execution_options(yield_per=2_000)):
        if changes is None:
            continue  # a damaged event is the audit chain check's finding
        try:
            signature_id = json.loads(changes)["signature"]["new"]["signature_id"]
        except (TypeError, ValueError, KeyError):
            continue  # a damaged event is the audit chain check's finding
        recorded[signature_id] = seq
    return recorded
