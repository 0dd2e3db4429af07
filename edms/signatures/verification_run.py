"""The signatures check of a verification run (`edms verify`, the audit verification page): every stored
signature, streamed in keyset batches, judged as `edms.signatures.verification` judges one.

How it stays fast on a large archive without changing what is judged:
- this process only reads: each batch of signature rows and the version, document, credential and
  attachment rows they point to, as plain tuples (SQLAlchemy Core, one query per table, never ORM
  objects); the whole judgement of a batch (time-stamp, CMS, chains, revocation at the stamped time,
  identity, the link to the version and its recomputed content hash, the row's columns) is
  `edms.signatures.batch_check`'s, run by worker processes (one per CPU) while this process reads the
  next batches; small archives are judged in this process by the same code;
- what many signatures share (certificates, the CA's signatures on them and on its CRLs) is checked
  once per run, keyed by the exact bytes (`edms.verifier.memo`); nothing is reused from an earlier run,
  not even the in-process cache the pages use;
- each version's content hash is recomputed once per batch however many signatures it carries.
Memory holds a few batches, whatever the size of the archive: the signatures the audit trail records (to
find rows written outside edms, and signatures removed) are kept in a scratch file for the run
(`edms.signatures.recorded`), not in memory.
"""
from __future__ import annotations

import json
import multiprocessing
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from edms.audit.integrity import VerificationRun
from edms.audit.models import AuditEvent
from edms.documents import models as dm
from edms.errors import N_
from edms.signatures import batch_check
from edms.signatures.models import Signature, SigningCredential
from edms.signatures.recorded import RecordedSignatures
from edms.signatures.verification import Trust, trust_from
from edms.verifier import memo
from edms.verifier.constants import SIGNED_ACTIONS

# Below this many signatures, starting worker processes costs more than it saves.
POOL_THRESHOLD = 2_000
SIGNATURE_BATCH = 500


def check_signatures(run: VerificationRun) -> None:
    """Every signature: time-stamp, CMS, certificate chain and status at the stamped time, signer identity,
    the link to its version's recomputed content hash, and the audit event that recorded it.

    Options: `trust` (None: no PKI), `batch_size`, `signature_workers`: worker processes judging the
    batches when the archive holds at least `signature_pool_threshold` signatures (default 0: all
    in this process). Only a command-line process asks for workers (`edms verify`): a worker is a new
    interpreter (`spawn`), which re-imports the program's main module, so a server never starts them."""
    # At most SIGNATURE_BATCH a batch (the run's batch size is the audit chain's, thousands of small rows): a
    # signature row holds a few kilobytes and a few batches are in flight at once.
    batch_size = min(run.options.get("batch_size", SIGNATURE_BATCH), SIGNATURE_BATCH)
    with Session(bind=run.connection) as session:
        anchors = run.options.get("trust")
        trust = None if anchors is None else trust_from(session, anchors)
    workers = run.options.get("signature_workers", 0) if trust is not None else 0
    if workers and run.options.get("signature_pool_threshold", POOL_THRESHOLD) > (
            run.connection.scalar(select(func.count()).select_from(Signature)) or 0):
        workers = 0
    first = True
    # The workers start (a new interpreter each, importing the verifier) while this process streams the
    # signing events into the scratch file.
    with RecordedSignatures() as recorded, memo.shared_run(), _pool(trust, workers) as pool:
        recorded.add(_recording_events(run.connection))
        for batch, problems in _judged(_batches(run.connection, batch_size, with_links=trust is not None), trust,
                                       pool, workers):
            run.examined("signature", len(batch.signatures))
            if trust is None and first:
                run.problem("signature", "*", N_("the signatures cannot be checked: the organisation PKI is not "
                                                 "available (run `edms init` or restore it)"))
            first = False
            for signature_id, message, params in problems:
                run.problem("signature", signature_id, message, **params)
            signature_ids = [values[1] for values in batch.signatures]
            found = recorded.take(signature_ids)
            for signature_id in signature_ids:
                if signature_id not in found:
                    run.problem("signature", signature_id, N_("no audit event records this signature (the "
                                                              "row was written outside edms)"))
        for key, seq in recorded.remaining():
            run.problem("signature", key, N_("recorded in the audit trail at seq %(seq)s but missing (removed)"),
                        seq=seq)


def _columns(table: Any, names: tuple[str, ...]) -> list[Any]:
    return [getattr(table, name) for name in names]


def _batches(connection: Connection, batch_size: int, *, with_links: bool) -> Iterator[batch_check.Batch]:
    """Keyset batches of signature rows (`id > :last`) with the rows they link to, all plain tuples."""
    signature_columns = _columns(Signature, batch_check.SIGNATURE_COLUMNS)
    last_id = 0
    while True:
        signatures = [tuple(row) for row in connection.execute(
            select(*signature_columns).where(Signature.id > last_id).order_by(Signature.id).limit(batch_size))]
        if not signatures:
            return
        last_id = signatures[-1][0]
        if not with_links:
            yield batch_check.Batch(signatures, {}, {}, {}, {})
            continue
        versions = _by_id(connection, dm.DocumentVersion, batch_check.VERSION_COLUMNS, {row[4] for row in signatures})
        documents = _by_id(connection, dm.Document, batch_check.DOCUMENT_COLUMNS,
                           {row[1] for row in versions.values()})
        credentials = _by_id(connection, SigningCredential, batch_check.CREDENTIAL_COLUMNS,
                             {row[9] for row in signatures})
        attachments: dict[int, list[tuple[Any, ...]]] = {}
        if versions:
            for version_id, *entry in connection.execute(
                    select(*_columns(dm.Attachment, batch_check.ATTACHMENT_COLUMNS))
                    .where(dm.Attachment.version_id.in_(versions), dm.Attachment.removed_at.is_(None))
                    .order_by(dm.Attachment.id)):
                attachments.setdefault(version_id, []).append(tuple(entry))
        yield batch_check.Batch(signatures, versions, documents, credentials, attachments)


def _by_id(connection: Connection, table: Any, names: tuple[str, ...], ids: set[int]) -> dict[int, tuple[Any, ...]]:
    if not ids:
        return {}
    return {row[0]: tuple(row) for row in connection.execute(select(*_columns(table, names)).where(table.id.in_(ids)))}


@contextmanager
def _pool(trust: Trust | None, workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """Worker processes judging batches against `trust`, started now (None: judge in this process)."""
    if trust is None or workers <= 0:
        yield None
        return
    # spawn: a clean interpreter, never a copy of this process's connections.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=batch_check.start_worker,
                             initargs=(batch_check.TrustState.of(trust),)) as pool:
        with _main_module_not_rerun():
            for _ in range(workers):  # a worker is spawned for each task submitted while none is idle
                pool.submit(batch_check.ready)
        yield pool


@contextmanager
def _main_module_not_rerun() -> Iterator[None]:
    """While workers are spawned: a spawned interpreter re-runs the parent's main module by its path before it
    starts (multiprocessing's `__mp_main__`), which for `edms verify` is the console script, importing the whole
    application (Flask, SQLAlchemy, the CLI: seconds a worker on a loaded machine) for nothing a worker uses.
    Workers run `batch_check` alone, imported by name, so the path is withheld while they start."""
    main = sys.modules.get("__main__")
    path = None if main is None else main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        if main is not None and path is not None:
            main.__file__ = path


def _judged(batches: Iterator[batch_check.Batch], trust: Trust | None, pool: ProcessPoolExecutor | None,
            workers: int) -> Iterator[tuple[batch_check.Batch, list[batch_check.Problem]]]:
    """Each batch with the problems found in it (none without trust: nothing can be judged), in order."""
    if trust is None:
        for batch in batches:
            yield batch, []
        return
    if pool is None:
        for batch in batches:
            yield batch, batch_check.judge(batch, trust)
        return
    pending: deque[tuple[batch_check.Batch, Future[list[batch_check.Problem]]]] = deque()
    for batch in batches:
        pending.append((batch, pool.submit(batch_check.judge_in_worker, batch)))
        if len(pending) > workers:
            done, future = pending.popleft()
            yield done, future.result()
    while pending:
        done, future = pending.popleft()
        yield done, future.result()


def _recording_events(connection: Connection) -> Iterator[tuple[str, int]]:
    """(signature id, seq) of every signing event, in order, streamed (a server-side cursor on PostgreSQL)."""
    for seq, changes in connection.execute(select(AuditEvent.seq, AuditEvent.changes)
                                           .where(AuditEvent.action.in_(SIGNED_ACTIONS)).order_by(AuditEvent.seq)
                                           .execution_options(yield_per=2_000)):
        if changes is None:
            continue  # a damaged event is the audit chain check's finding
        try:
            signature_id = json.loads(changes)["signature"]["new"]["signature_id"]
        except (TypeError, ValueError, KeyError):
            continue  # a damaged event is the audit chain check's finding
        if isinstance(signature_id, str):
            yield signature_id, seq
