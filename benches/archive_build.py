"""The archive `bench_verify_archive.py` verifies, built in bulk (not timed): 10⁶ audit events and 10⁵ signatures
in a few minutes on two loaded cores instead of well over ten.

    build(directory, events, signatures, database_url=None) -> Built

What is real, as before: 30 signatures made through the signing ceremony (`bench_signatures.sign_all`) are the
templates; every further signature is made for real with the signer's own key over its own new manifest
(`sign_detached`) and stamped by the internal TSA over its own signature value (`InternalTsa.timestamp`): no token
is shared, so the verifier checks each signature's own token over its own bytes. Every clone of a template
document has its own number, so its own content hash, which its manifests name. Each signature has the audit
event that records it, and filler events make up the rest; all of them are chained with the audit log's own
canonical bytes and SHA-256.

What makes it fast:
- the signatures are made by one worker process per CPU (fork), a chunk of clones each, while this process
  writes the rows of the chunks already made and chains the events (the chain is one line: one process);
- a filler event's canonical bytes are a template filled in (its five varying fields are ASCII text needing no
  JSON escape, or an integer); the template is taken from `canonical_bytes` itself, and every 1 000th event is
  compared with `canonical_bytes` of its fields (an assertion: the bench stops if they ever differ);
- the rows go in by executemany in ONE transaction; on SQLite the build's own connection runs with the journal
  off and no fsync (`journal_mode=OFF`, `synchronous=OFF`: for the build only; the archive is then put back in
  WAL, as the application opens it), and the audit table's secondary indexes are dropped during the load and
  created again after it, with the SQL the migrations created them with; on PostgreSQL the events go in by
  COPY;
- `--keep DIR` (in the bench) keeps the archive on disk between runs: a second run only verifies it.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import multiprocessing
import os
import uuid
from collections import deque
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import bench_signatures as base  # the same users, PKI and documents
from sqlalchemy import create_engine, event, func, insert, select
from sqlalchemy.pool import NullPool

from edms.audit.chain import canonical_bytes, canonical_changes
from edms.audit.models import AuditEvent
from edms.config import load_settings
from edms.crypto.cms import sign_detached, signature_value
from edms.documents import models as dm
from edms.documents.hashing import canonical_json
from edms.documents.queries import version_hash
from edms.pki.store import PkiStore
from edms.signatures.ceremony import SigningEnvironment
from edms.signatures.keys import certificate_of, unwrap_user_key
from edms.signatures.manifest import parse_manifest
from edms.signatures.models import Signature, SigningCredential
from edms.timeutil import isoformat_utc, utc_now

TEMPLATE_DOCUMENTS = 10  # x 3 signers: 30 signatures made through the ceremony
CLONES_PER_CHUNK = 10  # 300 signatures a task for a signing worker
CHECK_EVERY = 1_000  # a filler event's template bytes compared with canonical_bytes
EVENT_BATCH = 20_000
MARKER = "archive.json"  # in a kept directory: what was built, and the sample for the raw measures

_EVENT_COLUMNS = ("seq", "occurred_at", "actor_id", "actor_name", "action", "object_type", "object_id",
                  "document_version", "case_id", "changes", "reason", "request_id", "client_addr", "app_version",
                  "prev_hash", "hash")
_ACTOR = (2, "Akiko Tanaka (田中 明子)")
_CONSTANT = {"actor_id": _ACTOR[0], "actor_name": _ACTOR[1], "object_type": "document", "case_id": None,
             "reason": None, "client_addr": "10.0.0.17", "app_version": "0.1.0"}


@dataclasses.dataclass
class Built:
    settings: Any
    sample: tuple  # (manifest, cms, token response, version content, a filler event's canonical bytes)
    events: int
    signatures: int

    def save(self, directory: Path) -> None:
        (directory / MARKER).write_text(json.dumps({
            "database_url": self.settings.database_url, "events": self.events, "signatures": self.signatures,
            "sample": [base64.b64encode(part).decode() for part in self.sample]}))


def load_kept(directory: Path, events: int, signatures: int) -> Built | None:
    """The archive built earlier in `directory` for these sizes, or None."""
    marker = directory / MARKER
    if not marker.exists():
        return None
    saved = json.loads(marker.read_text())
    if (saved["events"], saved["signatures"]) != (events, signatures):
        raise SystemExit(f"{directory} holds {saved['events']} events and {saved['signatures']} signatures: "
                         "use another directory for other sizes")
    settings = load_settings("testing", overrides={"database_url": saved["database_url"],
                                                   "data_dir": str(directory / "data")})
    return Built(settings, tuple(base64.b64decode(part) for part in saved["sample"]), events, signatures)


def _columns(row) -> dict:
    return {column.name: getattr(row, column.key) for column in row.__table__.columns}


def _setup(directory: Path, database_url: str | None):
    if database_url is None:
        return base.setup(directory, "testing", TEMPLATE_DOCUMENTS, "none")
    real = base.load_settings

    def on_server(environment, overrides):  # the same setup, on the PostgreSQL database given
        return real(environment, overrides={**overrides, "database_url": database_url})
    base.load_settings = on_server
    try:
        return base.setup(directory, "testing", TEMPLATE_DOCUMENTS, "none")
    finally:
        base.load_settings = real


# --- the signing workers -------------------------------------------------------------------------------

_SIGNING: dict[str, Any] = {}  # set before the pool forks: keys, the TSA, the templates


def _sign_chunk(task: tuple[int, int, int, int]) -> tuple[list, list, list, list]:
    """Clones `first`.. of every template document, `count` signatures at most, ids from the given ones."""
    first, count, next_document, next_version = task
    keys, authority, tsa, templates = _SIGNING["keys"], _SIGNING["authority"], _SIGNING["tsa"], _SIGNING["templates"]
    documents, versions, signatures, recorded = [], [], [], []
    clone = first
    while len(signatures) < count:
        for document_row, version_row, signed in templates:
            if len(signatures) >= count:
                break
            number = f"{document_row['number']}-C{clone:05d}"
            document = {**document_row, "id": next_document, "number": number}
            version = {**version_row, "id": next_version, "document_id": next_document}
            transient = dm.Document(type_key=document["type_key"], number=number)
            content_sha256 = version_hash(transient, dm.DocumentVersion(
                version=version["version"], title=version["title"], content=version["content"], all_attachments=[]))
            version["content_sha256"] = content_sha256
            documents.append(document)
            versions.append(version)
            for template, manifest_template in signed:
                if len(signatures) >= count:
                    break
                key, cert = keys[template["credential_id"]]
                signed_at = utc_now()
                manifest = dataclasses.replace(manifest_template, signature_id=str(uuid.uuid4()),
                                               document_id=next_document, document_number=number,
                                               content_sha256=content_sha256, signed_at=signed_at)
                data = canonical_json(manifest.to_json())  # the bytes `Manifest.to_bytes` gives, in C
                cms = sign_detached(key, cert, data, [authority.ca_cert])
                stamped = utc_now()
                response = tsa.timestamp(hashlib.sha256(signature_value(cms)).digest(), now=stamped)
                signatures.append({**{k: v for k, v in template.items() if k != "id"},
                                   "signature_id": manifest.signature_id, "document_id": next_document,
                                   "version_id": next_version, "signed_at": signed_at, "manifest": data,
                                   "cms": cms, "timestamp_response": response, "timestamped_at": stamped})
                recorded.append((manifest.signature_id, stamped, version["version"], next_document))
            next_document += 1
            next_version += 1
        clone += 1
    return documents, versions, signatures, recorded


# --- the audit events ----------------------------------------------------------------------------------

class Chain:
    """Events chained after the archive's head, written in batches through `write(rows)`."""

    def __init__(self, seq: int, previous: str, moment: datetime, write, sqlite: bool) -> None:
        self.seq, self.previous, self.moment, self._write, self._sqlite = seq, previous, moment, write, sqlite
        self.rows: list[tuple] = []
        self.filler_sample = self.last_canonical = b""
        changes = canonical_changes({"status": {"old": "draft", "new": "in_review"}})
        probe = {**_CONSTANT, "action": "document.viewed", "changes": changes, "document_version": None,
                 "seq": 999_999_999_999, "occurred_at": "@OCCURRED@", "object_id": "@OBJECT@",
                 "request_id": "@REQUEST@", "prev_hash": "@PREVIOUS@"}
        template = canonical_bytes(probe).decode().replace("%", "%%")
        order = sorted(("@OCCURRED@", "@OBJECT@", "@REQUEST@", "@PREVIOUS@", "999999999999"), key=template.index)
        self._filler_order = order
        for marker in order:
            template = template.replace(marker, "%s" if marker.startswith("@") else "%d", 1)
        self._filler_template = template
        self._filler_changes = changes

    def _stored_time(self, moment: datetime):
        # SQLAlchemy's SQLite storage format for the naive UTC value `UTCDateTime` binds; PostgreSQL takes the value
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if self._sqlite else moment

    def _add(self, fields: dict, canonical: bytes) -> None:
        digest = hashlib.sha256(canonical).hexdigest()
        self.last_canonical = canonical
        self.rows.append((*(fields[name] for name in _EVENT_COLUMNS[:-1]), digest))
        self.previous = digest
        if len(self.rows) >= EVENT_BATCH:
            self.flush()

    def signed(self, signature_id: str, stamped: datetime, version: int, document_id: int) -> None:
        fields = self._next("signature.signed", str(document_id), version, canonical_changes({"signature": {
            "old": None, "new": {"signature_id": signature_id, "timestamped_at": isoformat_utc(stamped)}}}))
        canonical = canonical_bytes({**fields, "occurred_at": isoformat_utc(self.moment)})
        fields["occurred_at"] = self._stored_time(self.moment)
        self._add(fields, canonical)

    def _next(self, action: str, object_id: str, version: int | None, changes: str | None) -> dict:
        self.seq += 1
        self.moment += timedelta(microseconds=1_000)
        return {**_CONSTANT, "seq": self.seq, "occurred_at": None, "action": action, "object_id": object_id,
                "document_version": version, "changes": changes, "request_id": f"{self.seq:032x}",
                "prev_hash": self.previous}

    def fillers(self, up_to: int) -> None:
        while self.seq < up_to:
            fields = self._next("document.viewed", f"DOC-{(self.seq + 1) % 977}", None, self._filler_changes)
            occurred = isoformat_utc(self.moment)
            values = {"@OCCURRED@": occurred, "@OBJECT@": fields["object_id"], "@REQUEST@": fields["request_id"],
                      "@PREVIOUS@": self.previous, "999999999999": self.seq}
            canonical = (self._filler_template % tuple(values[name] for name in self._filler_order)).encode()
            if self.seq % CHECK_EVERY == 1:
                assert canonical == canonical_bytes({**fields, "occurred_at": occurred}), "filler template drifted"
                self.filler_sample = canonical
            fields["occurred_at"] = self._stored_time(self.moment)
            self._add(fields, canonical)

    def flush(self) -> None:
        if self.rows:
            self._write(self.rows)
            self.rows = []


# --- the build -----------------------------------------------------------------------------------------

def _bulk_engine(url: str):
    engine = create_engine(url, poolclass=NullPool)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _fast(dbapi_connection, _record):  # for the build only: the archive is put back in WAL after it
            dbapi_connection.isolation_level = None
            for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-131072", "foreign_keys=ON",
                           "temp_store=MEMORY"):
                dbapi_connection.execute(f"PRAGMA {pragma}")

        @event.listens_for(engine, "begin")
        def _begin(connection):
            connection.connection.driver_connection.execute("BEGIN")
    return engine


def _event_writer(connection):
    """`write(rows)`: executemany on SQLite, COPY on PostgreSQL."""
    columns = ", ".join(_EVENT_COLUMNS)
    if connection.dialect.name == "sqlite":
        statement = f"INSERT INTO audit_event ({columns}) VALUES ({', '.join('?' * len(_EVENT_COLUMNS))})"
        cursor = connection.connection.driver_connection.cursor()
        return lambda rows: cursor.executemany(statement, rows)
    driver = connection.connection.driver_connection

    def copy(rows):
        with driver.cursor() as cursor, cursor.copy(f"COPY audit_event ({columns}) FROM STDIN") as writer:
            for row in rows:
                writer.write_row(row)
    return copy


def _secondary_indexes(connection) -> list[tuple[str, str]]:
    if connection.dialect.name != "sqlite":
        return []
    return [tuple(row) for row in connection.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_event' AND sql IS NOT NULL")]


def build(directory: Path, events: int, signatures: int, database_url: str | None = None,
          workers: int | None = None) -> Built:
    """The archive in `directory` (and in `database_url`'s database when given, else SQLite in `directory`)."""
    settings, engine, sessions, types, signer_ids, ids, store = _setup(directory, database_url)
    base.sign_all(settings, sessions, types, signer_ids, ids, TEMPLATE_DOCUMENTS * 3, base.Timer(None), store,
                  {"commit": base.Timer(None)})
    authority = SigningEnvironment.from_settings(settings).authority()
    with sessions() as session:
        templates = []
        for document_id in ids:
            document = session.get(dm.Document, document_id)
            version = document.latest
            rows = list(session.scalars(select(Signature).where(Signature.version_id == version.id)
                                        .order_by(Signature.id)))
            templates.append((_columns(document), _columns(version),
                              [(_columns(row), parse_manifest(row.manifest)) for row in rows]))
        keys = {}
        for credential in session.scalars(select(SigningCredential)):
            keys[credential.id] = (unwrap_user_key(credential.wrapped_key, base.PASSWORD), certificate_of(credential))
        head = session.execute(select(AuditEvent.seq, AuditEvent.hash, AuditEvent.occurred_at)
                               .order_by(AuditEvent.seq.desc()).limit(1)).one()
        next_document = session.scalar(select(func.max(dm.Document.id))) + 1
        next_version = session.scalar(select(func.max(dm.DocumentVersion.id))) + 1
    engine.dispose()
    made = TEMPLATE_DOCUMENTS * 3
    per_chunk = CLONES_PER_CHUNK * made
    tasks = []
    clone = 1
    while made + len(tasks) * per_chunk < signatures:
        count = min(per_chunk, signatures - made - len(tasks) * per_chunk)
        tasks.append((clone, count, next_document, next_version))
        documents = -(-count // 3)
        clone, next_document, next_version = clone + CLONES_PER_CHUNK, next_document + documents, next_version + documents
    # The internal TSA `authority.timestamp` calls (settings name no external one), asked for the time it stamps.
    tsa = PkiStore.for_settings(settings).internal_tsa()
    _SIGNING.update(keys=keys, authority=authority, tsa=tsa, templates=templates)
    bulk = _bulk_engine(settings.database_url)
    sample = None
    workers = workers or os.cpu_count() or 1
    # The workers fork before the build's connection is opened: they hold nothing of it.
    with multiprocessing.get_context("fork").Pool(workers) as pool, bulk.begin() as connection:
        indexes = _secondary_indexes(connection)
        for name, _sql in indexes:
            connection.exec_driver_sql(f"DROP INDEX {name}")
        chain = Chain(head.seq, head.hash, head.occurred_at, _event_writer(connection), bulk.dialect.name == "sqlite")
        pending: deque = deque()
        for task in tasks:  # at most two chunks a worker in flight: memory holds a few chunks
            pending.append(pool.apply_async(_sign_chunk, (task,)))
            if len(pending) >= 2 * workers:
                made, sample = _store(connection, chain, pending.popleft().get(), made, sample, events, signatures)
        while pending:
            made, sample = _store(connection, chain, pending.popleft().get(), made, sample, events, signatures)
        chain.fillers(events)
        chain.flush()
        for _name, sql in indexes:
            connection.exec_driver_sql(sql)
    if bulk.dialect.name == "sqlite":
        raw = bulk.raw_connection()  # outside any transaction
        try:
            raw.driver_connection.execute("PRAGMA journal_mode=WAL")  # as the application opens it
        finally:
            raw.close()
    bulk.dispose()
    _SIGNING.clear()
    if sample is None:  # no clone: a template signature
        with create_engine(settings.database_url, poolclass=NullPool).connect() as connection:
            row = connection.execute(select(Signature.manifest, Signature.cms, Signature.timestamp_response,
                                            Signature.version_id).limit(1)).one()
            content = connection.scalar(select(dm.DocumentVersion.content).where(dm.DocumentVersion.id == row[3]))
        sample = (row[0], row[1], row[2], content.encode())
    return Built(settings, (*sample, chain.filler_sample or chain.last_canonical), chain.seq, made)


def _store(connection, chain: Chain, chunk, made: int, sample, events: int, signatures: int):
    documents, versions, signature_rows, recorded = chunk
    connection.execute(insert(dm.Document.__table__), documents)
    connection.execute(insert(dm.DocumentVersion.__table__), versions)
    connection.execute(insert(Signature.__table__), signature_rows)
    for entry in recorded:
        chain.signed(*entry)
    made += len(signature_rows)
    if sample is None and signature_rows:
        first = signature_rows[0]
        content = next(v["content"] for v in versions if v["id"] == first["version_id"])
        sample = (first["manifest"], first["cms"], first["timestamp_response"], content.encode())
    chain.fillers(events * made // signatures)  # filler events between the signing events, in proportion
    return made, sample
