"""The raw limit of a cold verification of stored signatures: what a cold check performs per signature, as
callables on the real bytes of one stored signature, timed on as many cores at once as the check used, plus the
verifications a run performs once for what signatures share. Used by bench_signatures.py and
bench_verify_archive.py, so that both hold the check against the same raw work.

Per signature (`signature_operations`): the two ECDSA P-256 verifications (the person's key over the CMS signed
attributes, the TSA's key over the token's; each hashes what it verifies) and SHA-256 over the signed bytes (the
manifest, the signature value the token stamps, the token's TSTInfo, the TSA certificate its ESS attribute names,
the version's content: once per signature here, although a run hashes each version once). Per run and worker
(`shared_verifications`): the CA's signatures on the chain certificates and on CRLs, counted by checking a
signature in a fresh run, at one core's ECDSA rate.
"""
from __future__ import annotations

import functools
import hashlib
import multiprocessing
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from edms.pki import trust_anchors
from edms.verifier import memo
from edms.verifier.cms import signature_value, signed_data, signer_certificate
from edms.verifier.stamped import verify_stamped
from edms.verifier.timestamp import token_of


def signature_operations(sample) -> list:
    """What a cold check performs for every signature, as callables on the real bytes of one stored signature:
    the two ECDSA verifications (the person's CMS signature over its signed attributes, the TSA's over the
    token's) and SHA-256 over the signed bytes (the manifest, the signature value the token stamps, the
    token's TSTInfo, the TSA certificate its ESS attribute names, the version's content)."""
    manifest, cms, response, content = sample[:4]
    operations = []
    for der in (cms, token_of(response)):
        data = signed_data(der)
        cert = signer_certificate(data)
        signer = data.signer
        assert signer.signed_attrs is not None
        signed = b"\x31" + signer.signed_attrs.raw[1:]
        key = cert.public_key()
        operations.append(functools.partial(key.verify, signer.signature, signed, ec.ECDSA(hashes.SHA256())))
    token = signed_data(token_of(response))
    tsa_der = signer_certificate(token).public_bytes(Encoding.DER)  # (not timed: the bytes the token carries)
    for data in (manifest, signature_value(cms), token.content or b"", tsa_der, content):
        operations.append(functools.partial(hashlib.sha256, data))
    return operations


def shared_verifications(settings, sample) -> int:
    """The ECDSA verifications a worker performs once per run for what signatures share (the CA's signatures
    on the certificates of the chains and on its CRLs): counted, by checking the sample in a fresh run."""
    manifest, cms, response = sample[:3]
    anchors = trust_anchors(settings)
    with memo.shared_run() as run:
        verify_stamped(cms, response, manifest, anchors.roots, tsa_roots=anchors.tsa_roots)
        return len(run.issued) + len(run.crl_signed)


def _operations_loop(sample, seconds: float, counts) -> None:
    operations = signature_operations(sample)
    count, tick = 0, time.perf_counter()
    while time.perf_counter() - tick < seconds:
        for operation in operations:
            operation()
        count += 1
    counts.put(count / (time.perf_counter() - tick))


def raw_signature_rate(sample, cores: int, seconds: float = 1.0) -> float:
    """Signatures' worth of raw operations a second on `cores` cores at once (one process each, all running
    together under the same load): the sum of their rates."""
    context = multiprocessing.get_context("fork")
    counts = context.Queue()
    processes = [context.Process(target=_operations_loop, args=(sample, seconds, counts)) for _ in range(cores)]
    for process in processes:
        process.start()
    rates = [counts.get() for _ in processes]
    for process in processes:
        process.join()
    return sum(rates)


def ecdsa_seconds(sample, seconds: float = 0.5) -> float:
    verify = signature_operations(sample)[0]
    count, tick = 0, time.perf_counter()
    while time.perf_counter() - tick < seconds:
        verify()
        count += 1
    return (time.perf_counter() - tick) / count


def raw_seconds(sample, settings, signatures: int, cores: int) -> tuple[float, int]:
    """Seconds the raw work of checking `signatures` signatures takes on `cores` cores (each worker verifying what
    the signatures share once), and that shared count."""
    shared = shared_verifications(settings, sample)
    return signatures / raw_signature_rate(sample, cores) + shared * ecdsa_seconds(sample), shared
