"""Long-term validation of a detached signature with its archive time-stamps (RFC 4998, see `evidence`).

A time-stamp proves that data existed at its time only while the time-stamping certificate, its chain
and its algorithms can still be trusted. Judged at a moment T (today, or any moment of judgement):

1. the signature is verified as always, at its own time-stamp's time (`stamped.verify_stamped`), with the
   certificates and CRLs the first archive time-stamp carries; that CRL of each issuer is required;
2. each archive time-stamp is a valid RFC 3161 time-stamp of its group of hashes, the group holds the
   hashes of what it covers (the data objects, or the previous archive time-stamp) and of its validation
   data, and it was made while the layer it covers was still good: every certificate of that layer's TSA
   chain unexpired and unrevoked then (shown by the CRLs it carries), its algorithms not yet retired;
3. the newest layer must still be good at T: its TSA chain unexpired (and unrevoked by the CRLs given),
   its algorithms not retired. Without archive time-stamps the newest layer is the signature's own
   time-stamp: once its certificate has expired, nothing proves the signature is older than any later
   compromise, and the signature no longer validates.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from cryptography import x509

from edms.verifier.chain import build_chain, check_chain, describe, utc
from edms.verifier.cms import certificates, signed_data, signer_certificate
from edms.verifier.errors import Invalid
from edms.verifier.evidence import (
    ArchiveStamp,
    decode_evidence_record,
    decode_validation_data,
    first_group,
    renewal_group,
)
from edms.verifier.stamped import StampedSignature, verify_stamped
from edms.verifier.timestamp import token_of, verify_timestamp


@dataclass(frozen=True)
class Layer:
    """One time-stamp in the line of evidence: the signature's own, then each archive time-stamp."""

    name: str
    gen_time: datetime
    chain: tuple[x509.Certificate, ...]  # the TSA certificate up to its root
    algorithms: tuple[str, ...]  # digest and signature algorithm OIDs of the token

    @property
    def expires(self) -> datetime:
        return min(cert.not_valid_after_utc for cert in self.chain)


@dataclass(frozen=True)
class LongTerm:
    signature: StampedSignature
    layers: tuple[Layer, ...]

    @property
    def archive_count(self) -> int:
        return len(self.layers) - 1

    @property
    def valid_until(self) -> datetime:
        """When the newest layer's chain expires: a new archive time-stamp is needed before then."""
        return self.layers[-1].expires


@dataclass(frozen=True)
class _Evidence:
    certificates: tuple[x509.Certificate, ...]
    crls: tuple[x509.CertificateRevocationList, ...]


def _evidence(validation: bytes) -> _Evidence:
    certs, crls = decode_validation_data(validation)
    try:
        return _Evidence(tuple(x509.load_der_x509_certificate(c) for c in certs),
                         tuple(x509.load_der_x509_crl(c) for c in crls))
    except ValueError:
        raise Invalid("a certificate or CRL in the validation data is malformed") from None


def verify_long_term(manifest: bytes, cms: bytes, stamp: bytes, evidence_record: bytes | None,
                     roots: Sequence[x509.Certificate], *, at: datetime,
                     tsa_roots: Sequence[x509.Certificate] | None = None,
                     crls: Sequence[x509.CertificateRevocationList] = (),
                     retired: Mapping[str, datetime] | None = None) -> LongTerm:
    """Is the signature still valid at the moment of judgement `at`, given its Evidence Record (or none)?

    `crls` are what the person judging has now (they judge the newest layer at `at`); `retired` maps an
    algorithm OID to the moment it stopped being trusted. Returns the layers of evidence, or Invalid."""
    tsa_roots = roots if tsa_roots is None else tsa_roots
    retired = retired or {}
    archived = decode_evidence_record(evidence_record) if evidence_record else []
    evidence = [_evidence(item.validation) for item in archived]
    first = evidence[0] if evidence else _Evidence((), tuple(crls))
    signature = verify_stamped(cms, stamp, manifest, roots, tsa_roots=tsa_roots, untrusted=first.certificates,
                               crls=first.crls)
    if evidence:
        _require_crls(signature.signed.chain, first.crls, "the signer's certificate chain", "archive time-stamp 1")
    layers = [_layer("the signature's time-stamp", token_of(stamp), signature.stamp.gen_time, tsa_roots,
                     first.certificates)]
    for number, (item, proof) in enumerate(zip(archived, evidence, strict=True), start=1):
        name = f"archive time-stamp {number}"
        expected = (first_group(manifest, cms, stamp, item.validation) if number == 1
                    else renewal_group(archived[number - 2].token, item.validation))
        _check_group(item, expected, name)
        following = evidence[number] if number < len(evidence) else _Evidence((), tuple(crls))
        try:
            made = verify_timestamp(item.token, item.imprint, tsa_roots, untrusted=following.certificates,
                                    crls=following.crls)
        except Invalid as exc:
            raise Invalid(f"{name}: {exc}") from None
        _check_covered(layers[-1], proof, made.gen_time, name, retired)
        layers.append(_layer(name, item.token, made.gen_time, tsa_roots, following.certificates))
    newest = layers[-1]
    try:
        check_chain(newest.chain, at)
    except Invalid as exc:
        raise Invalid(f"{newest.name} can no longer be trusted ({exc}) and no later archive time-stamp "
                      "covers it") from None
    _check_unrevoked(newest, crls, at, "the CRLs given")
    _check_algorithms(newest, at, retired, "today" if not archived else f"on {utc(at)}")
    return LongTerm(signature, tuple(layers))


def _layer(name: str, token: bytes, gen_time: datetime, tsa_roots: Sequence[x509.Certificate],
           extra: Sequence[x509.Certificate]) -> Layer:
    data = signed_data(token)
    embedded = certificates(data)
    tsa = signer_certificate(data)
    chain = build_chain(tsa, [*embedded, *extra], tsa_roots)
    return Layer(name, gen_time, chain, (data.signer.digest_oid, data.signer.signature_oid))


def _check_group(item: ArchiveStamp, expected: tuple[bytes, ...], name: str) -> None:
    if sorted(item.hashes) != sorted(expected):
        raise Invalid(f"{name} does not cover what it must (the signature, its time-stamp and its validation data, "
                      "or the previous archive time-stamp): something was changed or swapped")


def _check_covered(layer: Layer, proof: _Evidence, at: datetime, name: str, retired: Mapping[str, datetime]) -> None:
    """`layer` was still good at `at`, when the archive time-stamp `name` covered it."""
    if at < layer.gen_time:
        raise Invalid(f"{name} ({utc(at)}) is older than {layer.name} ({utc(layer.gen_time)})")
    try:
        check_chain(layer.chain, at)
    except Invalid as exc:
        raise Invalid(f"{name} was added on {utc(at)}, too late: {layer.name} could no longer be trusted "
                      f"then ({exc})") from None
    _require_crls(layer.chain, proof.crls, f"{layer.name}'s certificate chain", name)
    _check_unrevoked(layer, proof.crls, at, f"the CRLs in {name}")
    _check_algorithms(layer, at, retired, f"when {name} was added ({utc(at)})")


def _require_crls(chain: Sequence[x509.Certificate], crls: Sequence[x509.CertificateRevocationList],
                  what: str, where: str) -> None:
    for _, issuer in pairwise(chain):
        if not any(crl.issuer == issuer.subject and crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
                   for crl in crls):
            raise Invalid(f"{where} carries no CRL of {describe(issuer)} for {what}")


def _check_unrevoked(layer: Layer, crls: Sequence[x509.CertificateRevocationList], at: datetime, source: str) -> None:
    for cert, issuer in pairwise(layer.chain):
        for crl in crls:
            if crl.issuer != issuer.subject or not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
                continue
            entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
            if entry is not None and entry.revocation_date_utc <= at:
                raise Invalid(f"{layer.name}: the certificate of {describe(cert)} was revoked on "
                              f"{utc(entry.revocation_date_utc)} ({source})")


def _check_algorithms(layer: Layer, at: datetime, retired: Mapping[str, datetime], when: str) -> None:
    for algorithm in layer.algorithms:
        since = retired.get(algorithm)
        if since is not None and since <= at:
            raise Invalid(f"{layer.name} uses the algorithm {algorithm}, retired since {utc(since)}, {when}")

