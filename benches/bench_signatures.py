"""How fast edms makes and verifies electronic signatures, against raw ECDSA P-256 in the same run.

    python benches/bench_signatures.py --signatures 300 [--kdf production|testing] [--blobs filesystem|none]

Builds a migrated SQLite database and an organisation PKI in a temporary directory, three signers who are
ready to sign (identity checked, policy acknowledged, trained) and enough submitted OOS notifications,
then signs every step of each through `edms.signatures.operations.sign`, one committed transaction per
signature as the pages do: lock, sequence and authority checks, gates, re-authentication, key unwrap,
canonical manifest, detached CMS, RFC 3161 time-stamp from the internal TSA, verification of both,
insert, audit event, approval on the last step; and, with a blob store (`--blobs filesystem`, the default: every
real deployment has one), the PAdES revision of the version's PDF frozen at submission (the person's second
signature, the TSA's second token, the appearance drawn with the embedded Japanese font, the validation data).

The password KDF (Argon2id: checking the password, unwrapping the key) is deliberate cost and is timed
separately; `--kdf production` uses the production figures (config/default.toml), `testing` the cheap
ones. Verification is timed through the `edms verify` check in this process, cold (no verdict, manifest or
identity kept from signing) and warm, the cold check held against the raw work it performs on the one core it
uses (`verify_raw`: per signature two ECDSA P-256 verifications and SHA-256 over the signed bytes, per run the
chains' verifications). The raw signing rate is `cryptography`'s ECDSA P-256 over the manifest bytes. Prints a JSON line
with the split of a signature per stage (KDF excluded) and the ratio to raw: the ECDSA signatures it makes
(the person's, the TSA's; twice each with the PDF), and, as an extra view, those plus one durable SQLite commit
of the same rows (`raw_commit_ms`: the signature row and its audit event inserted and committed, synchronous=FULL).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import event

from edms.audit import AuditContext
from edms.config import load_settings
from edms.crypto import pades
from edms.db import make_engine, make_session_factory, transaction
from edms.documents import models as dm
from edms.documents.blobstores.factory import open_blob_store
from edms.documents.operations import create_document, submit
from edms.documents.types import load_document_types
from edms.migrate import upgrade
from edms.pki import PkiStore, trust_anchors
from edms.signatures import gates, keys, pdf_operations, verdict, verification
from edms.signatures import operations as ops
from edms.signatures.ceremony import Credentials, SigningEnvironment, session_ref_for
from edms.signatures.manifest import parse_manifest
from edms.signatures.models import Signature
from edms.timeutil import utc_now
from edms.users.models import User
from edms.users.operations import create_user
from edms.users.profiles import Profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
import verify_raw  # noqa: E402  (the raw work of a cold check, shared with bench_verify_archive.py)

try:
    from edms.crypto import pades_font
except ImportError:  # the code before the appearance font was kept per process (a before/after run)
    pades_font = pades

PASSWORD = "Correct-Horse-2026!"
OOS = "oos_notification"
VALUES = {
    "product": "tisagenlecleucel (CTL019)", "lot": "L2026-0412", "patient_ref": "PT-7Q4X", "tested_on": "2026-11-20",
    "test": "viability", "method": "Flow cytometry, 7-AAD exclusion (SOP QC-112)", "specification": "≥ 80 %",
    "result": "72.0", "units": "%", "safety_test": False,
    "investigation_summary": "Phase I laboratory investigation: no assignable laboratory error.",
    "risk_assessment": "OOS lots with viability of 61-79 % had outcomes similar to conforming lots.",
    "recommendation": "Consider administration with enhanced monitoring for cytokine release syndrome.",
}
PEOPLE = (("kenji.sato", "Kenji Sato", "author"), ("akiko.tanaka", "Akiko Tanaka", "qa"),
          ("hiroshi.yamamoto", "Hiroshi Yamamoto", "qa"))


class Timer:
    """Accumulates the time spent in a wrapped function."""

    def __init__(self, function, inside: Timer | None = None):
        self.function, self.seconds, self.calls, self.active = function, 0.0, 0, 0
        self.inside, self.seconds_inside = inside, 0.0  # the part of the time spent within `inside`'s calls

    def __call__(self, *args, **kwargs):
        tick = time.perf_counter()
        self.active += 1
        try:
            return self.function(*args, **kwargs)
        finally:
            self.active -= 1
            spent = time.perf_counter() - tick
            self.seconds += spent
            if self.inside is not None and self.inside.active:
                self.seconds_inside += spent
            self.calls += 1


def setup(directory: Path, kdf: str, documents: int, blobs: str):
    environment = "development" if kdf == "production" else "testing"
    settings = load_settings(environment, overrides={"database_url": f"sqlite:///{directory / 'bench.sqlite3'}",
                                                     "data_dir": str(directory / "data")})
    engine = make_engine(settings.database_url)
    upgrade(engine)
    PkiStore.for_settings(settings).create(settings.organisation, kdf_iterations=1000)
    sessions = make_session_factory(engine)
    types = load_document_types(settings.forms_dir)
    system = AuditContext.system("bench")
    store = open_blob_store(settings, engine, kind="filesystem") if blobs == "filesystem" else None
    with transaction(sessions) as session:
        admin = create_user(session, system, settings.password, username="daisuke.kato", roles={"admin"},
                            profile=Profile(printed_name="Daisuke Kato"), password=PASSWORD, must_change_password=False)
        signers = [create_user(session, system, settings.password, username=name, roles={role},
                               profile=Profile(printed_name=printed, timezone="Asia/Tokyo"), password=PASSWORD,
                               must_change_password=False) for name, printed, role in PEOPLE]
        today = utc_now().date()
        for person, (_name, _printed, role) in zip(signers, PEOPLE, strict=True):
            gates.record_identity_verification(session, system, admin, person, method="In person",
                                               evidence="Passport checked")
            gates.acknowledge_policy(session, system, person, gates.load_policy())
            gates.record_training(session, system, admin, person, role=role, document_type=OOS, known_types=types,
                                  course="SOP QA-014 v3", trained_on=today, valid_until=today + timedelta(days=365))
        ids = []
        author = signers[0]
        for number in range(documents):
            document = create_document(session, system, author, types[OOS], title=f"Viability OOS #{number}",
                                       raw_values=dict(VALUES))
            submit(session, system, author, document)
            if store is not None:  # frozen at submission, as `edms.application.drafting.submit` does
                pdf_operations.freeze_version_pdf(session, system, store, types[OOS], document, document.latest)
            ids.append(document.id)
        signer_ids = [person.id for person in signers]
    return settings, engine, sessions, types, signer_ids, ids, store


def sign_all(settings, sessions, types, signer_ids, document_ids, limit: int, tsa: Timer, store,
             stages: dict[str, Timer]) -> tuple[float, list[float], int]:
    env = SigningEnvironment.from_settings(settings, blobs=store)
    authority = env.authority()  # the CA key is opened once, as a running server has it open
    tsa.function = authority.timestamp
    timed = dataclasses.replace(authority, timestamp=tsa)
    env = dataclasses.replace(env, authority=lambda: timed)
    session_ref = session_ref_for("bench-session")
    durations, made = [], 0
    started = time.perf_counter()
    for document_id in document_ids:
        for signer_id in signer_ids:
            if made == limit:
                return time.perf_counter() - started, durations, made
            tick = time.perf_counter()
            with transaction(sessions) as session:
                user = session.get(User, signer_id)
                document = session.get(dm.Document, document_id)
                ops.sign(session, AuditContext(user.id, user.printed_name, "127.0.0.1"), env, types[OOS], user,
                         document, document.latest,
                         Credentials(password=PASSWORD, username=user.username, session_ref=session_ref))
                commit_started = time.perf_counter()
            stages["commit"].seconds += time.perf_counter() - commit_started
            durations.append(time.perf_counter() - tick)
            made += 1
    return time.perf_counter() - started, durations, made


def raw_ecdsa(data: bytes, seconds: float = 2.0) -> tuple[float, float]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
    rates = []
    for operation in (lambda: key.sign(data, ec.ECDSA(hashes.SHA256())),
                      lambda: public.verify(signature, data, ec.ECDSA(hashes.SHA256()))):
        count, deadline = 0, time.perf_counter() + seconds
        tick = time.perf_counter()
        while time.perf_counter() < deadline:
            operation()
            count += 1
        rates.append(count / (time.perf_counter() - tick))
    return rates[0], rates[1]


# What a signature is timed in, by module attribute: (module, attribute, stage). Nested stages are taken apart
# in `breakdown` (the KDF out of re-authentication and key opening, the PDF's time-stamp out of its signature).
STAGES = (
    (ops, "verify_password", "kdf_password"), (keys, "unwrap_user_key", "kdf_unwrap"),
    (ops, "_lock", "lock"), (ops, "signed_steps", "signed_steps"), (ops, "check_may_sign", "sequence_authority"),
    (ops, "check_record_gates", "record_gates"), (ops, "missing_gates", "person_gates"),
    (ops, "_authenticate", "authenticate"), (ops, "version_hash", "content_hash"), (ops, "open_signing_key", "open_key"),
    (ops, "_delegation", "delegation"), (ops, "frozen_pdf_sha256", "frozen_pdf_hash"),
    (ops, "sign_detached", "cms_sign"), (ops, "_timestamp", "timestamp_and_checks"),
    (ops, "verify_timestamp", "verify_new_timestamp"), (ops, "verify_detached", "verify_new_cms"),
    (ops, "sign_version_pdf", "pdf"), (pdf_operations, "signed_pdf", "pdf_read_current"),
    (pades, "signature_fields", "pdf_fields"), (pades, "sign_pdf", "pdf_signature"),
    (pades_font, "appearance_font", "pdf_appearance_font"), (pades, "_appearance_font", "pdf_appearance_font"),
    (pdf_operations, "_validation_data", "pdf_crl_and_certs"),
    (pades, "add_validation_data", "pdf_dss"), (pdf_operations, "append_pdf_revision", "pdf_store_revisions"),
    (ops, "record", "audit_event"), (ops, "mark_approved", "approval"),
)


def breakdown(stages: dict[str, Timer], tsa: Timer, seconds: float, made: int) -> dict[str, float]:
    """Milliseconds per signature, each stage exclusive of the others; `rest` is what no stage covers
    (the insert's flush, the manifest, Python between the stages)."""
    t = {stage: 0.0 for _module, _attribute, stage in STAGES} | {name: timer.seconds for name, timer in stages.items()}
    kdf = t["kdf_password"] + t["kdf_unwrap"]
    tsa_pdf = tsa.seconds_inside
    tsa_cms = tsa.seconds - tsa_pdf
    parts = {
        "password_kdf": kdf,
        "gates_and_reads": t["lock"] + t["signed_steps"] + t["sequence_authority"] + t["record_gates"]
        + t["person_gates"] + t["authenticate"] - t["kdf_password"] + t["delegation"] + t["content_hash"]
        + t["frozen_pdf_hash"],
        "open_key_excluding_kdf": t["open_key"] - t["kdf_unwrap"],
        "cms_sign": t["cms_sign"],
        "tsa_token_for_cms": tsa_cms,
        "verify_new_timestamp": t["verify_new_timestamp"],
        "verify_new_cms": t["verify_new_cms"],
        "pdf_read_current": t["pdf_read_current"] + t["pdf_fields"],
        "pdf_appearance_font": t["pdf_appearance_font"],
        "pdf_tsa_token": tsa_pdf,
        "pdf_signature_rest": t["pdf_signature"] - t["pdf_appearance_font"] - tsa_pdf,
        "pdf_crl_and_certs": t["pdf_crl_and_certs"],
        "pdf_dss": t["pdf_dss"],
        "pdf_store_revisions": t["pdf_store_revisions"],
        "audit_event": t["audit_event"],
        "approval": t["approval"],
        "commit": t["commit"],
    }
    parts["pdf_other"] = t["pdf"] - sum(value for key, value in parts.items() if key.startswith("pdf_"))
    for stage in ("lock", "signed_steps", "sequence_authority", "record_gates", "person_gates", "delegation",
                  "content_hash", "frozen_pdf_hash"):  # gates_and_reads, stage by stage
        parts[f"gates_and_reads.{stage}"] = t[stage]
    parts["gates_and_reads.authenticate_excluding_kdf"] = t["authenticate"] - t["kdf_password"]
    parts["rest"] = seconds - sum(value for key, value in parts.items() if "." not in key)
    return {key: round(value / made * 1000, 2) for key, value in parts.items()}


def raw_commit(directory: Path, row_bytes: int, event_bytes: int, count: int = 50) -> float:
    """Seconds per durable SQLite commit of one signature-sized row and one audit-event-sized row (WAL,
    synchronous=FULL as edms's engine leaves it), through the bare sqlite3 driver."""
    import sqlite3

    connection = sqlite3.connect(directory / "raw.sqlite3", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE signature (id INTEGER PRIMARY KEY, body BLOB)")
    connection.execute("CREATE TABLE event (id INTEGER PRIMARY KEY, body BLOB)")
    row, event = b"s" * row_bytes, b"e" * event_bytes
    tick = time.perf_counter()
    for _ in range(count):
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO signature (body) VALUES (?)", (row,))
        connection.execute("INSERT INTO event (body) VALUES (?)", (event,))
        connection.execute("COMMIT")
    seconds = (time.perf_counter() - tick) / count
    connection.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--signatures", type=int, default=300)
    parser.add_argument("--kdf", choices=("production", "testing"), default="production")
    parser.add_argument("--blobs", choices=("filesystem", "none"), default="filesystem")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edms-bench-signatures-") as folder:
        documents = -(-args.signatures // len(PEOPLE))
        settings, engine, sessions, types, signer_ids, ids, store = setup(Path(folder), args.kdf, documents, args.blobs)
        stages = {"commit": Timer(None)}
        for module, attribute, stage in STAGES:
            if hasattr(module, attribute):
                stages[stage] = timer = Timer(getattr(module, attribute))
                setattr(module, attribute, timer)
        tsa = Timer(None, inside=stages["pdf_signature"])
        statements = [0]

        def count(*_args) -> None:
            statements[0] += 1

        event.listen(engine, "before_cursor_execute", count)
        seconds, durations, made = sign_all(settings, sessions, types, signer_ids, ids, args.signatures, tsa, store,
                                            stages)
        kdf_seconds = stages["kdf_password"].seconds + stages["kdf_unwrap"].seconds
        statements_per_signature = statements[0] / made
        event.remove(engine, "before_cursor_execute", count)
        trust = trust_anchors(settings)
        from edms.application.integrity import check_integrity as verify

        # Cold: nothing this process computed while signing is reused (the verdicts, the manifests, identities).
        verification._cache.clear()
        parse_manifest.cache_clear()
        verdict._identities.clear()
        verdict._identity_of.cache_clear()
        tick = time.perf_counter()
        cold = verify(engine, only={"signatures"}, trust=trust)
        cold_seconds = time.perf_counter() - tick
        tick = time.perf_counter()
        warm = verify(engine, only={"signatures"}, trust=trust)
        warm_seconds = time.perf_counter() - tick
        assert cold.ok and warm.ok, cold.to_dict()
        with sessions() as session:
            first = session.query(Signature).first()
            manifest = first.manifest
            row_bytes = len(first.manifest) + len(first.cms) + len(first.timestamp_response or b"") + 200
            content = session.get(dm.DocumentVersion, first.version_id).content.encode()
            sample = (first.manifest, first.cms, first.timestamp_response, content)
        sign_rate, verify_rate = raw_ecdsa(manifest)
        # What the cold check performs (per signature 2 ECDSA verifications and the SHA-256 over the signed bytes,
        # per run the chains' and CRLs' verifications), on the one core it ran on (`check_integrity` in process).
        verify_raw_seconds, shared_verifications = verify_raw.raw_seconds(sample, settings, made, 1)
        commit_seconds = raw_commit(Path(folder), row_bytes, 1200)
        engine.dispose()
    # The ECDSA signatures one signature makes and keeps: the person's and the TSA's over the CMS, and again for
    # the PDF (pyHanko's extra token for its size estimate and the DSS's CRLs are overhead, not counted as raw).
    ecdsa_per_signature = 4 if store is not None else 2
    raw_seconds = ecdsa_per_signature / sign_rate
    excluding_kdf = (seconds - kdf_seconds) / made
    result = {
        "bench": "signatures",
        "engine": "sqlite",
        "blobs": args.blobs,
        "signatures": made,
        "kdf": args.kdf,
        "measured": round(excluding_kdf * 1000, 3),
        "raw": round(raw_seconds * 1000, 3),
        "ratio": round(raw_seconds / excluding_kdf, 4),
        "unit": "ms per signature, KDF excluded (ratio: raw ÷ measured, target ≥ 0.5)",
        "ecdsa_signatures_per_signature": ecdsa_per_signature,
        "tsa_tokens_per_signature": round(tsa.calls / made, 2),  # pyHanko's sizing token included
        # An extra view: the raw cost with one durable SQLite commit of the same rows added.
        "raw_commit_ms": round(commit_seconds * 1000, 3),
        "ratio_with_raw_commit": round((raw_seconds + commit_seconds) / excluding_kdf, 4),
        "sign_total_per_second": round(made / seconds, 1),
        "sign_median_ms": round(statistics.median(durations) * 1000, 2),
        # Each person's first signature in the process prepares their appearance font: the others reuse it.
        "sign_median_ms_after_each_persons_first": round(statistics.median(durations[len(PEOPLE):]) * 1000, 2)
        if made > len(PEOPLE) else None,
        "sign_excluding_kdf_per_second": round(made / (seconds - kdf_seconds), 1),
        "sql_statements_per_signature": round(statements_per_signature, 1),
        "sign_breakdown_ms_per_signature": breakdown(stages, tsa, seconds, made),
        "verify_cold_per_second": round(made / cold_seconds, 1),
        "verify_warm_cache_per_second": round(made / warm_seconds, 1),
        # Cold verification against the raw work it performs on the one core it used (`verify_raw`: per signature
        # 2 ECDSA verifications and SHA-256 over the signed bytes; the chains' verifications once per run).
        "verify_cold_raw_per_second": round(made / verify_raw_seconds, 1),
        "verify_cold_ratio_to_raw": round(verify_raw_seconds / cold_seconds, 3),
        "verify_cold_shared_verifications": shared_verifications,
        "raw_ecdsa_p256_sign_per_second": round(sign_rate),
        "raw_ecdsa_p256_verify_per_second": round(verify_rate),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "python": sys.version.split()[0],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
