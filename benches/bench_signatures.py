"""How fast edms makes and verifies electronic signatures, against raw ECDSA P-256 in the same run.

    python benches/bench_signatures.py --signatures 300 [--kdf production|testing]

Builds a migrated SQLite database and an organisation PKI in a temporary directory, three signers who are
ready to sign (identity checked, policy acknowledged, trained) and enough submitted OOS notifications,
then signs every step of each through `edms.signatures.operations.sign`, one committed transaction per
signature as the pages do: lock, sequence and authority checks, gates, re-authentication, key unwrap,
canonical manifest, detached CMS, RFC 3161 time-stamp from the internal TSA, verification of both,
insert, audit event, approval on the last step.

The password KDF (Argon2id: checking the password, unwrapping the key) is deliberate cost and is timed
separately; `--kdf production` uses the production figures (config/default.toml), `testing` the cheap
ones. Verification is timed through the `edms verify` check, cold (empty cache) and warm. The raw rate
is `cryptography`'s ECDSA P-256 / SHA-256 sign and verify over the same manifest bytes. Prints a JSON line.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from edms.audit import AuditContext
from edms.config import load_settings
from edms.db import make_engine, make_session_factory, transaction
from edms.documents import models as dm
from edms.documents.operations import create_document, submit
from edms.documents.types import load_document_types
from edms.migrate import upgrade
from edms.pki import PkiStore, trust_anchors
from edms.signatures import gates, keys, verification
from edms.signatures import operations as ops
from edms.signatures.ceremony import Credentials, SigningEnvironment, session_ref_for
from edms.signatures.models import Signature
from edms.timeutil import utc_now
from edms.users.models import User
from edms.users.operations import create_user
from edms.users.profiles import Profile

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

    def __init__(self, function):
        self.function, self.seconds, self.calls = function, 0.0, 0

    def __call__(self, *args, **kwargs):
        tick = time.perf_counter()
        try:
            return self.function(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - tick
            self.calls += 1


def setup(directory: Path, kdf: str, documents: int):
    environment = "development" if kdf == "production" else "testing"
    settings = load_settings(environment, overrides={"database_url": f"sqlite:///{directory / 'bench.sqlite3'}",
                                                     "data_dir": str(directory / "data")})
    engine = make_engine(settings.database_url)
    upgrade(engine)
    PkiStore.for_settings(settings).create(settings.organisation, kdf_iterations=1000)
    sessions = make_session_factory(engine)
    types = load_document_types(settings.forms_dir)
    system = AuditContext.system("bench")
    with transaction(sessions) as session:
        admin = create_user(session, system, settings.password, username="daisuke.kato", roles={"admin"},
                            profile=Profile(printed_name="Daisuke Kato"), password=PASSWORD, must_change_password=False)
        signers = [create_user(session, system, settings.password, username=name, roles={role},
                               profile=Profile(printed_name=printed, timezone="Asia/Tokyo"), password=PASSWORD,
                               must_change_password=False) for name, printed, role in PEOPLE]
        today = utc_now().date()
        for person, (_name, _printed, role) in zip(signers, PEOPLE):
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
            ids.append(document.id)
        signer_ids = [person.id for person in signers]
    return settings, engine, sessions, types, signer_ids, ids


def sign_all(settings, sessions, types, signer_ids, document_ids, limit: int,
             tsa: Timer) -> tuple[float, list[float], int]:
    env = SigningEnvironment.from_settings(settings)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--signatures", type=int, default=300)
    parser.add_argument("--kdf", choices=("production", "testing"), default="production")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edms-bench-signatures-") as folder:
        documents = -(-args.signatures // len(PEOPLE))
        settings, engine, sessions, types, signer_ids, ids = setup(Path(folder), args.kdf, documents)
        password_check, unwrap = Timer(ops.verify_password), Timer(keys.unwrap_user_key)
        stamp_check, cms_check, tsa = Timer(ops.verify_timestamp), Timer(ops.verify_detached), Timer(None)
        ops.verify_password, keys.unwrap_user_key = password_check, unwrap
        ops.verify_timestamp, ops.verify_detached = stamp_check, cms_check
        seconds, durations, made = sign_all(settings, sessions, types, signer_ids, ids, args.signatures, tsa)
        kdf_seconds = password_check.seconds + unwrap.seconds
        crypto_seconds = tsa.seconds + stamp_check.seconds + cms_check.seconds
        trust = trust_anchors(settings)
        from edms.application.integrity import check_integrity as verify

        verification._cache.clear()
        tick = time.perf_counter()
        cold = verify(engine, only={"signatures"}, trust=trust)
        cold_seconds = time.perf_counter() - tick
        tick = time.perf_counter()
        warm = verify(engine, only={"signatures"}, trust=trust)
        warm_seconds = time.perf_counter() - tick
        assert cold.ok and warm.ok, cold.to_dict()
        with sessions() as session:
            manifest = session.query(Signature).first().manifest
        sign_rate, verify_rate = raw_ecdsa(manifest)
        engine.dispose()
    result = {
        "signatures": made,
        "kdf": args.kdf,
        "sign_total_per_second": round(made / seconds, 1),
        "sign_median_ms": round(statistics.median(durations) * 1000, 2),
        "kdf_ms_per_signature": round(kdf_seconds / made * 1000, 2),
        "sign_excluding_kdf_per_second": round(made / (seconds - kdf_seconds), 1),
        "sign_breakdown_ms_per_signature": {
            "password_kdf": round(kdf_seconds / made * 1000, 2),
            "tsa_issue_timestamp": round(tsa.seconds / made * 1000, 2),
            "verify_new_timestamp": round(stamp_check.seconds / made * 1000, 2),
            "verify_new_cms": round(cms_check.seconds / made * 1000, 2),
            "database_checks_audit_rest": round((seconds - kdf_seconds - crypto_seconds) / made * 1000, 2),
        },
        "verify_cold_per_second": round(made / cold_seconds, 1),
        "verify_warm_cache_per_second": round(made / warm_seconds, 1),
        # Issue #15's ratios: signing (KDF excluded) against the raw cost of what it makes (the person's ECDSA
        # signature and the TSA's), cold verification against two raw ECDSA verifications per signature (the
        # CMS and the token; the certificate chains are shared and verified once per run).
        "sign_ratio_to_raw": round((2 / sign_rate) / ((seconds - kdf_seconds) / made), 4),
        "verify_cold_ratio_to_raw": round((made / cold_seconds) / (verify_rate / 2), 3),
        "raw_ecdsa_p256_sign_per_second": round(sign_rate),
        "raw_ecdsa_p256_verify_per_second": round(verify_rate),
        "python": sys.version.split()[0],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
