"""What keeping the organisation's keys in an HSM costs: each signing operation with a key in a PKCS#11 token
(SoftHSM2 here; a network HSM adds its round trip) against the same operation with a key in memory.

    .venv/bin/python benches/bench_hsm.py --repeat 200

A temporary SOFTHSM2_CONF and token (softhsm2-util), the organisation PKI created in it (edms.pki.hsm), and
the same PKI in memory (edms.crypto.pki.bootstrap_pki). Timed, N times each, token against memory:

- `ecdsa_sign`: one ECDSA P-256/SHA-256 signature by the system key;
- `cms_sign`: a detached CMS over a 2 KiB manifest (edms.crypto.cms.sign_detached, the checkpoints' path);
- `tsa_token`: one RFC 3161 token of the internal TSA (the cost of every signature's time-stamp);
- `ecdsa_sign_4_threads`: signatures per second from 4 threads sharing the process's one session (the lock
  serialises them: this is the ceiling of one node's TSA).

Prints one JSON line per measure: {"bench": "hsm", "measure": ..., "engine": "softhsm2", "measured": token,
"raw": memory, "ratio": token / memory, "unit": ...}.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

ROOT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT_DIR))

from edms.crypto.cms import sign_detached  # noqa: E402
from edms.crypto.pki import bootstrap_pki  # noqa: E402
from edms.pki.hsm import HsmPkiStore  # noqa: E402
from edms.pki.store import SYSTEM, InternalTsa  # noqa: E402
from edms.pki.token import TokenConfig, token_for  # noqa: E402
from edms.timeutil import utc_now  # noqa: E402
from tests.support.softhsm import SO_PIN, USER_PIN, module_path  # noqa: E402

ORGANISATION = "Kansai Regenerative Cell Therapies K.K."


def per_second(action: Callable[[], object], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        action()
    return repeat / (time.perf_counter() - start)


def threaded_per_second(action: Callable[[], object], repeat: int, threads: int) -> float:
    workers = [threading.Thread(target=lambda: [action() for _ in range(repeat)]) for _ in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return repeat * threads / (time.perf_counter() - start)


def emit(measure: str, measured: float, raw: float, unit: str) -> None:
    print(json.dumps({"bench": "hsm", "measure": measure, "engine": "softhsm2", "measured": round(measured, 1),
                      "raw": round(raw, 1), "ratio": round(measured / raw, 3), "unit": unit}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200)
    repeat = parser.parse_args().repeat
    module = module_path()
    if module is None or shutil.which("softhsm2-util") is None:
        sys.exit("SoftHSM2 is not installed (Debian package softhsm2)")
    with tempfile.TemporaryDirectory(prefix="edms-bench-hsm-") as directory:
        (Path(directory) / "tokens").mkdir()
        conf = Path(directory) / "softhsm2.conf"
        conf.write_text(f"directories.tokendir = {directory}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n")
        os.environ["SOFTHSM2_CONF"] = str(conf)
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "bench", "--pin", USER_PIN,
                        "--so-pin", SO_PIN], check=True, capture_output=True)
        store = HsmPkiStore(token_for(TokenConfig(module, "bench", USER_PIN)))
        store.create(ORGANISATION)
        memory = bootstrap_pki(ORGANISATION, utc_now())
        token_key, memory_key = store.private_key(SYSTEM), memory.system_key
        manifest = os.urandom(2048)
        digest = hashlib.sha256(manifest).digest()
        algorithm = ec.ECDSA(hashes.SHA256())
        emit("ecdsa_sign", per_second(lambda: token_key.sign(manifest, algorithm), repeat),
             per_second(lambda: memory_key.sign(manifest, algorithm), repeat), "signatures/s")
        token_cert = store.certificate(SYSTEM)
        emit("cms_sign",
             per_second(lambda: sign_detached(token_key, token_cert, manifest), repeat // 4 or 1),
             per_second(lambda: sign_detached(memory_key, memory.system_cert, manifest), repeat // 4 or 1), "CMS/s")
        token_tsa = store.internal_tsa()
        memory_tsa = InternalTsa(memory.tsa_key, memory.tsa_cert, (memory.root_cert,))
        emit("tsa_token", per_second(lambda: token_tsa.timestamp(digest), repeat // 4 or 1),
             per_second(lambda: memory_tsa.timestamp(digest), repeat // 4 or 1), "tokens/s")
        emit("ecdsa_sign_4_threads", threaded_per_second(lambda: token_key.sign(manifest, algorithm), repeat // 4 or 1, 4),
             threaded_per_second(lambda: memory_key.sign(manifest, algorithm), repeat // 4 or 1, 4), "signatures/s")


if __name__ == "__main__":
    main()
