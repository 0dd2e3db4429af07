"""Reading a signature's CMS and its time-stamp token: the one-pass reader (`edms.verifier.one_pass`, what a
verification uses) against the reference DER walk it falls back to, in the same run, inside a verification run
(`memo.shared_run`: a signer's certificate set read once), and against one raw ECDSA P-256 verification of the
same structure (what a check must do with it anyway).

    python benches/bench_cms_reader.py [--signatures 50] [--seconds 1]

Builds (not timed) `--signatures` real detached CMS signatures by a person's key under an organisation PKI and
the internal TSA's tokens stamping them, then times each reader over all of them, alternating, in CPU time
(`time.process_time`: the machine is shared). One JSON line per measure.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from edms.crypto.cms import sign_detached, signature_value
from edms.crypto.pki import bootstrap_pki, generate_private_key, issue_user_certificate
from edms.crypto.tsa import make_timestamp_response
from edms.verifier import cms, memo
from edms.verifier.timestamp import token_of

ORG = "Example Cell Therapy K.K."


def structures(count: int) -> list[bytes]:
    now = datetime.now(UTC).replace(microsecond=0)
    pki = bootstrap_pki(ORG, now - timedelta(days=1))
    key = generate_private_key()
    cert = issue_user_certificate(pki.intermediate_cert, pki.intermediate_key, key.public_key(),
                                  printed_name="Akiko Tanaka", username="akiko.tanaka", user_id="user-0001",
                                  org_name=ORG, now=now - timedelta(days=1))
    made = []
    for number in range(count):
        signature = sign_detached(key, cert, f'{{"signature":{number}}}'.encode(), [pki.intermediate_cert])
        response = make_timestamp_response(pki.tsa_key, pki.tsa_cert, [], serial=number + 1, gen_time=now,
                                           nonce=number, policy_oid="1.2.3.4.1",
                                           message_imprint=hashlib.sha256(signature_value(signature)).digest())
        made += [signature, token_of(response)]
    return made


def per_structure(read, items: list[bytes], seconds: float) -> float:
    """CPU seconds per structure read, inside one verification run."""
    with memo.shared_run():
        for item in items:  # the run's shared reads (certificate sets) happen once, as in a run
            read(item)
        count, tick = 0, time.process_time()
        while time.process_time() - tick < seconds:
            for item in items:
                read(item)
            count += len(items)
        return (time.process_time() - tick) / count


def ecdsa_seconds(item: bytes, seconds: float) -> float:
    data = cms.signed_data(item)
    key = cms.signer_certificate(data).public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and data.signer.signed_attrs is not None
    signed = b"\x31" + data.signer.signed_attrs.raw[1:]
    count, tick = 0, time.process_time()
    while time.process_time() - tick < seconds:
        key.verify(data.signer.signature, signed, ec.ECDSA(hashes.SHA256()))
        count += 1
    return (time.process_time() - tick) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--signatures", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    items = structures(args.signatures)
    for item in items:
        assert cms._read_signed_data(item) == cms._read_signed_data_reference(item)
    one_pass, reference = [], []
    for _ in range(args.rounds):  # alternating, so that both see the same load
        reference.append(per_structure(cms._read_signed_data_reference, items, args.seconds))
        one_pass.append(per_structure(cms._read_signed_data, items, args.seconds))
    ecdsa = ecdsa_seconds(items[0], args.seconds)
    common = {"engine": "none", "structures": len(items), "load_average_1m": round(os.getloadavg()[0], 2)}
    fast, slow = min(one_pass), min(reference)
    print(json.dumps({"bench": "cms_reader.one_pass", **common, "measured": round(fast * 1e6, 2),
                      "raw": round(slow * 1e6, 2), "ratio": round(fast / slow, 3),
                      "unit": "CPU us per CMS or token read in a run (raw: the reference DER walk, same run; best of "
                              f"{args.rounds}, each: one-pass {[round(s * 1e6, 1) for s in one_pass]}, reference "
                              f"{[round(s * 1e6, 1) for s in reference]})"}))
    print(json.dumps({"bench": "cms_reader.against_ecdsa", **common, "measured": round(fast * 1e6, 2),
                      "raw": round(ecdsa * 1e6, 2), "ratio": round(ecdsa / fast, 3),
                      "unit": "CPU us per structure read in one pass (raw: one ECDSA P-256 verification of the same "
                              "structure's signed attributes; ratio raw / measured)"}))


if __name__ == "__main__":
    main()
