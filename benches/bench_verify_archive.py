"""`edms verify` of a whole archive: audit events and signatures per second against raw SHA-256 and raw
ECDSA P-256 in the same run, and peak memory at two archive sizes.

    python benches/bench_verify_archive.py [--events 1000000] [--signatures 100000] [--quick]

Building (not timed): a migrated SQLite database and an organisation PKI in a temporary directory, three
signers and a template of real signatures made through `edms.signatures.operations.sign` (the ceremony
of the pages). The archive is then grown IN BULK: each clone of a template document gets its own
document and version rows (its own number, so its own content hash) and its own signatures, every one
made for real (a new manifest signed by the signer's key, stamped by the internal TSA), and the audit
events that record them, followed by filler events up to --events, all chained with `edms.audit.chain`.

Timed: the audit chain check and the signatures check of `edms verify` (`check_integrity`), each cold
in a new process (nothing cached, workers started as `edms verify` starts them), with the process's peak
RSS. The same again on an archive a tenth of the size: memory must not grow with the archive. Raw, in
the same run: SHA-256 with hex digest over the events' canonical bytes (one core, as the chain check), and
per signature what a cold check performs (`signature_operations`, on a real stored signature's bytes): two
ECDSA P-256 verifications (the signer's CMS, the TSA's token) and SHA-256 over the signed bytes (manifest,
signature value, TSTInfo, TSA certificate, the version's content), timed on as many cores at once as the
check used (one process each, under the same load), plus the verifications each worker performs once per
run for what the signatures share (the CA's signatures on the chain certificates and CRLs, counted). One
JSON line per measure.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_signatures as base  # noqa: E402  (the same users, PKI and documents)
import verify_raw  # noqa: E402  (the raw work of a cold check, shared with bench_signatures.py)

from edms.audit.chain import canonical_bytes, canonical_changes  # noqa: E402
from edms.audit.models import AuditEvent  # noqa: E402
from edms.crypto.cms import sign_detached, signature_value  # noqa: E402
from edms.documents import models as dm  # noqa: E402
from edms.documents.queries import version_hash  # noqa: E402
from edms.signatures.ceremony import SigningEnvironment  # noqa: E402
from edms.signatures.keys import certificate_of, unwrap_user_key  # noqa: E402
from edms.signatures.manifest import parse_manifest  # noqa: E402
from edms.signatures.models import Signature, SigningCredential  # noqa: E402
from edms.signatures.verification_run import POOL_THRESHOLD  # noqa: E402
from edms.timeutil import isoformat_utc, utc_now  # noqa: E402
from edms.verifier.cms import signed_data  # noqa: E402
from edms.verifier.der import moment, read_one  # noqa: E402
from edms.verifier.timestamp import token_of  # noqa: E402

TEMPLATE_DOCUMENTS = 10  # x 3 signers: 30 signatures made through the ceremony
BATCH = 2_000


def _columns(row) -> dict:
    return {column.name: getattr(row, column.key) for column in row.__table__.columns}


def build(directory: Path, events: int, signatures: int):
    """The archive; returns (settings, a sample (manifest, cms, token, content)) for the raw measures."""
    # No blob store: the archive's signatures are what is measured, not their PDF revisions.
    settings, engine, sessions, types, signer_ids, ids, store = base.setup(directory, "testing", TEMPLATE_DOCUMENTS,
                                                                           "none")
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
            templates.append((_columns(document), _columns(version), [_columns(row) for row in rows]))
        keys = {}
        for credential in session.scalars(select(SigningCredential)):
            keys[credential.id] = (unwrap_user_key(credential.wrapped_key, base.PASSWORD), certificate_of(credential))
        head = session.execute(select(AuditEvent.seq, AuditEvent.hash, AuditEvent.occurred_at)
                               .order_by(AuditEvent.seq.desc()).limit(1)).one()
        next_document = session.scalar(select(func.max(dm.Document.id))) + 1
        next_version = session.scalar(select(func.max(dm.DocumentVersion.id))) + 1
    seq, previous, moment = head.seq, head.hash, head.occurred_at
    made = TEMPLATE_DOCUMENTS * 3
    event_rows: list[dict] = []
    event_samples: dict[str, bytes] = {}

    def event(action: str, object_id: str, changes: dict | None, version: int | None = None) -> None:
        nonlocal seq, previous, moment
        seq += 1
        moment += timedelta(microseconds=1_000)
        row = {"seq": seq, "occurred_at": moment, "actor_id": 2, "actor_name": "Akiko Tanaka (田中 明子)",
               "action": action, "object_type": "document", "object_id": object_id, "document_version": version,
               "case_id": None, "changes": canonical_changes(changes), "reason": None, "request_id": f"{seq:032x}",
               "client_addr": "10.0.0.17", "app_version": "0.1.0", "prev_hash": previous}
        canonical = canonical_bytes({**row, "occurred_at": isoformat_utc(moment)})
        row["hash"] = previous = hashlib.sha256(canonical).hexdigest()
        event_rows.append(row)
        event_samples[action] = canonical

    sample = None
    with engine.begin() as connection:
        clone = 0
        while made < signatures:
            clone += 1
            documents, versions, signature_rows = [], [], []
            for document_row, version_row, signed in templates:
                if made >= signatures:
                    break
                document = {**document_row, "id": next_document, "number": f"{document_row['number']}-C{clone:05d}"}
                version = {**version_row, "id": next_version, "document_id": next_document}
                transient = dm.Document(type_key=document["type_key"], number=document["number"])
                content_sha256 = version_hash(transient, dm.DocumentVersion(
                    version=version["version"], title=version["title"], content=version["content"], all_attachments=[]))
                version["content_sha256"] = content_sha256
                documents.append(document)
                versions.append(version)
                for template in signed:
                    if made >= signatures:
                        break
                    key, cert = keys[template["credential_id"]]
                    signed_at = utc_now()
                    manifest = dataclasses.replace(parse_manifest(template["manifest"]), signature_id=str(uuid.uuid4()),
                                                   document_id=next_document, document_number=document["number"],
                                                   content_sha256=content_sha256, signed_at=signed_at)
                    data = manifest.to_bytes()
                    cms = sign_detached(key, cert, data, [authority.ca_cert])
                    response = authority.timestamp(hashlib.sha256(signature_value(cms)).digest())
                    stamped = _gen_time(response)
                    signature_rows.append({**{k: v for k, v in template.items() if k != "id"},
                                           "signature_id": manifest.signature_id, "document_id": next_document,
                                           "version_id": next_version, "signed_at": signed_at, "manifest": data,
                                           "cms": cms, "timestamp_response": response, "timestamped_at": stamped})
                    event("signature.signed", str(next_document), {"signature": {"old": None, "new": {
                        "signature_id": manifest.signature_id, "timestamped_at": isoformat_utc(stamped)}}},
                        version["version"])
                    if sample is None:
                        sample = (data, cms, response, version["content"].encode())
                    made += 1
                next_document += 1
                next_version += 1
            connection.execute(insert(dm.Document.__table__), documents)
            connection.execute(insert(dm.DocumentVersion.__table__), versions)
            connection.execute(insert(Signature.__table__), signature_rows)
            if len(event_rows) >= BATCH:
                connection.execute(insert(AuditEvent.__table__), event_rows)
                event_rows.clear()
        while seq < events:
            event("document.viewed", f"DOC-{seq % 977}", {"status": {"old": "draft", "new": "in_review"}})
            if len(event_rows) >= BATCH * 5:
                connection.execute(insert(AuditEvent.__table__), event_rows)
                event_rows.clear()
        if event_rows:
            connection.execute(insert(AuditEvent.__table__), event_rows)
    engine.dispose()
    return settings, (*sample, event_samples["document.viewed"]), seq, made


def _gen_time(response: bytes):
    """The token's own time (genTime), read as the verifier reads it."""
    content = signed_data(token_of(response)).content
    assert content is not None
    return moment(read_one(content).children()[4])


CHILD = """
import json, os, resource, sys, time
from edms.application.integrity import check_integrity
from edms.config import load_settings
from edms.db import make_engine
from edms.pki import trust_anchors
settings = load_settings("testing", overrides={"database_url": sys.argv[1], "data_dir": sys.argv[2]})
engine = make_engine(settings.database_url)
trust = trust_anchors(settings)
workers = 0 if os.environ.get("BENCH_PROFILE") else os.cpu_count()  # profiled: the workers' code, in process
if workers == 0:
    import cProfile, pstats
    profiler = cProfile.Profile()
    profiler.enable()
tick = time.perf_counter()
report = check_integrity(engine, only={sys.argv[3]}, trust=trust, signature_workers=workers)  # as `edms verify`
seconds = time.perf_counter() - tick
if workers == 0:
    profiler.disable()
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(int(os.environ["BENCH_PROFILE"]))
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": seconds, "ok": report.ok, "counts": report.counts,
                  "problems": [p.describe() for p in report.problems[:3]],
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "worker_peak_rss_mib": children / 1024}))
"""


def verify_cold(settings, check: str, profile: int = 0) -> dict:
    environment = {**os.environ, "BENCH_PROFILE": str(profile)} if profile else None
    completed = subprocess.run([sys.executable, "-c", CHILD, settings.database_url, str(settings.data_dir), check],
                               check=True, capture_output=True, text=True, env=environment)
    if profile:
        print(completed.stderr, file=sys.stderr)
    output = completed.stdout
    result = json.loads(output.strip().splitlines()[-1])
    assert result["ok"], result
    return result


def raw_event_seconds(event: bytes, seconds: float = 1.0) -> float:
    count, tick = 0, time.perf_counter()
    while time.perf_counter() - tick < seconds:
        for _ in range(1000):
            hashlib.sha256(event).hexdigest()
        count += 1000
    return (time.perf_counter() - tick) / count


def measure(directory: Path, events: int, signatures: int, engine_name: str, profile: int = 0) -> list[dict]:
    settings, sample, total_events, made = build(directory, events, signatures)
    if profile:  # where the time goes: the signatures check in one process under cProfile (stderr), not timed
        verify_cold(settings, "signatures", profile)
    chain = verify_cold(settings, "audit_chain")
    signed = verify_cold(settings, "signatures")
    # The cores the signatures check used: `edms verify` judges on one worker per CPU from POOL_THRESHOLD up.
    cores = (os.cpu_count() or 1) if made >= POOL_THRESHOLD else 1
    # Each worker also verifies once what the signatures share: at one core's ECDSA rate, all workers at once.
    raw_seconds, shared_count = verify_raw.raw_seconds(sample, settings, made, cores)
    event_seconds = raw_event_seconds(sample[4])
    size = {"events": total_events, "signatures": made, "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2)}
    events_per_second = total_events / chain["seconds"]
    signatures_per_second = made / signed["seconds"]
    return [
        {"bench": "verify_archive.events", "engine": engine_name, **size, "measured": round(events_per_second),
         "raw": round(1 / event_seconds), "ratio": round(events_per_second * event_seconds, 3),
         "unit": "events/s (raw: SHA-256 hex over the canonical bytes, one core: the chain check uses one)",
         "peak_rss_mib": round(chain["peak_rss_mib"], 1)},
        {"bench": "verify_archive.signatures", "engine": engine_name, **size, "cores": cores,
         "measured": round(signatures_per_second, 1), "raw": round(made / raw_seconds, 1),
         "ratio": round(raw_seconds / signed["seconds"], 3),
         "unit": f"signatures/s (raw: per signature 2 ECDSA P-256 verify + SHA-256 over the signed bytes, run on "
                 f"{cores} core(s) at once, plus {shared_count} shared chain/CRL verifications per worker)",
         "peak_rss_mib": round(signed["peak_rss_mib"], 1), "worker_peak_rss_mib": round(signed["worker_peak_rss_mib"], 1)},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--signatures", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true",
                        help="10^4 events and 2x10^3 signatures (the least `edms verify` judges on every core)")
    parser.add_argument("--one-size", action="store_true", help="skip the archive a tenth of the size")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="first print (stderr) the N costliest functions of the signatures check run in one process")
    args = parser.parse_args()
    if args.quick:
        args.events, args.signatures = 10_000, POOL_THRESHOLD
    sizes = [(args.events, args.signatures)]
    if not args.one_size:
        sizes.append((max(args.events // 10, 1), max(args.signatures // 10, TEMPLATE_DOCUMENTS * 3)))
    for events, signatures in sizes:
        with tempfile.TemporaryDirectory(prefix="edms-bench-verify-archive-") as folder:
            for line in measure(Path(folder), events, signatures, "sqlite", args.profile):
                print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
