"""The archive time-stamps of a detached signature, as an RFC 4998 Evidence Record (DER).

    EvidenceRecord ::= SEQUENCE { version INTEGER (1), digestAlgorithms SEQUENCE OF AlgorithmIdentifier,
                                  archiveTimeStampSequence SEQUENCE OF ArchiveTimeStampChain }
    ArchiveTimeStampChain ::= SEQUENCE OF ArchiveTimeStamp
    ArchiveTimeStamp ::= SEQUENCE { attributes [1] IMPLICIT Attributes OPTIONAL,
                                    reducedHashtree [2] IMPLICIT SEQUENCE OF PartialHashtree OPTIONAL,
                                    timeStamp ContentInfo }            -- an RFC 3161 TimeStampToken
    PartialHashtree ::= SEQUENCE OF OCTET STRING

edms writes one ArchiveTimeStampChain per signature, every hash SHA-256, and each ArchiveTimeStamp's
reduced hash tree is one partial hash tree (a group, RFC 4998 §4.2): its time-stamp's imprint is the SHA-256
of the group's hashes sorted ascending and concatenated.
- the first archive time-stamp's group holds the hashes of the data objects: the signed manifest, the
  detached CMS signature and the signature's RFC 3161 time-stamp response, and of the validation data;
- each later one (time-stamp renewal, RFC 4998 §5.2) holds the hash of the previous archive time-stamp's
  timeStamp and of the validation data.
The validation data are the certificates and CRLs that show the previous time-stamp (or the signature) was
valid when it was made. They travel as the ArchiveTimeStamp's attribute `VALIDATION_DATA` and, being in the
group, are covered by that time-stamp and every later one, so they cannot be swapped afterwards:

    ValidationData ::= SEQUENCE { certificates SEQUENCE OF Certificate, crls SEQUENCE OF CertificateList }
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from edms.verifier.der import CONTEXT_1, OCTETS, SEQUENCE, SET, Node, expect, integer, oid, read_one
from edms.verifier.errors import Invalid

SHA256 = "2.16.840.1.101.3.4.2.1"
# An OID under 2.25 (ITU-T X.667, from a UUID): needs no registration.
VALIDATION_DATA = "2.25.302178245906458830461553203046113766573.1"
_CONTEXT_2 = 0xA2


@dataclass(frozen=True)
class ArchiveStamp:
    """One ArchiveTimeStamp: its time-stamp token (ContentInfo DER), its group of hashes, its validation data."""

    token: bytes
    hashes: tuple[bytes, ...]
    validation: bytes
    raw: bytes

    @property
    def imprint(self) -> bytes:
        return group_digest(self.hashes)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def group_digest(hashes: Sequence[bytes]) -> bytes:
    """RFC 4998 §4.2: the hash of a group is the hash of its members' hashes sorted ascending, concatenated."""
    return sha256(b"".join(sorted(hashes)))


def first_group(manifest: bytes, cms: bytes, stamp: bytes, validation: bytes) -> tuple[bytes, ...]:
    return tuple(sha256(part) for part in (manifest, cms, stamp, validation))


def renewal_group(previous_token: bytes, validation: bytes) -> tuple[bytes, ...]:
    return sha256(previous_token), sha256(validation)


# --- DER writing (the few constructions needed; the values are DER already) ---

def _tlv(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    size = (length.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + length.to_bytes(size, "big") + content


def _oid(dotted: str) -> bytes:
    arcs = [int(arc) for arc in dotted.split(".")]
    body = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return _tlv(0x06, bytes(body))


def encode_validation_data(certificates: Sequence[bytes], crls: Sequence[bytes]) -> bytes:
    return _tlv(SEQUENCE, _tlv(SEQUENCE, b"".join(certificates)) + _tlv(SEQUENCE, b"".join(crls)))


def encode_archive_stamp(token: bytes, hashes: Sequence[bytes], validation: bytes) -> bytes:
    attribute = _tlv(SEQUENCE, _oid(VALIDATION_DATA) + _tlv(SET, validation))
    tree = _tlv(SEQUENCE, b"".join(_tlv(OCTETS, value) for value in hashes))
    return _tlv(SEQUENCE, _tlv(CONTEXT_1, attribute) + _tlv(_CONTEXT_2, tree) + token)


def encode_evidence_record(stamps: Sequence[bytes]) -> bytes:
    """The Evidence Record of one chain of ArchiveTimeStamps (each DER, oldest first)."""
    algorithms = _tlv(SEQUENCE, _tlv(SEQUENCE, _oid(SHA256)))
    chain = _tlv(SEQUENCE, b"".join(stamps))
    return _tlv(SEQUENCE, _tlv(0x02, b"\x01") + algorithms + _tlv(SEQUENCE, chain))


# --- DER reading ---

def decode_archive_stamp(node: Node) -> ArchiveStamp:
    fields = expect(node, SEQUENCE, "ArchiveTimeStamp").children()
    if len(fields) != 3 or fields[0].tag != CONTEXT_1 or fields[1].tag != _CONTEXT_2:
        raise Invalid("malformed ArchiveTimeStamp (edms writes attributes, one reduced hash tree and the token)")
    validation = None
    for attribute in fields[0].children():
        kind, values = expect(attribute, SEQUENCE, "attribute").children()
        if oid(kind) == VALIDATION_DATA:
            members = expect(values, SET, "attribute values").children()
            if len(members) != 1 or validation is not None:
                raise Invalid("an ArchiveTimeStamp carries exactly one validation data value")
            validation = members[0].raw
    if validation is None:
        raise Invalid("the ArchiveTimeStamp carries no validation data")
    partial_trees = fields[1].children()
    if len(partial_trees) != 1:
        raise Invalid("edms's archive time-stamps have a reduced hash tree of exactly one group")
    hashes = tuple(expect(value, OCTETS, "hash").content for value in
                   expect(partial_trees[0], SEQUENCE, "partial hash tree").children())
    if not hashes or any(len(value) != 32 for value in hashes):
        raise Invalid("the reduced hash tree holds something other than SHA-256 hashes")
    expect(fields[2], SEQUENCE, "time-stamp token")
    return ArchiveStamp(fields[2].raw, hashes, validation, node.raw)


def decode_evidence_record(der: bytes) -> list[ArchiveStamp]:
    """The ArchiveTimeStamps of an Evidence Record, oldest first; Invalid when it is not one edms can read."""
    try:
        fields = expect(read_one(der), SEQUENCE, "EvidenceRecord").children()
        if len(fields) != 3 or integer(fields[0]) != 1:
            raise Invalid("not an RFC 4998 Evidence Record, version 1, without crypto or encryption information")
        algorithms = [oid(expect(item, SEQUENCE, "algorithm").children()[0]) for item in fields[1].children()]
        if algorithms != [SHA256]:
            raise Invalid(f"unsupported digest algorithms {algorithms} (edms archives with SHA-256)")
        chains = expect(fields[2], SEQUENCE, "archive time-stamp sequence").children()
        if len(chains) != 1:
            raise Invalid("edms writes one archive time-stamp chain (hash-tree renewal is not used)")
        stamps = [decode_archive_stamp(node) for node in expect(chains[0], SEQUENCE, "chain").children()]
    except (IndexError, ValueError) as exc:
        if isinstance(exc, Invalid):
            raise
        raise Invalid(f"malformed Evidence Record ({exc or type(exc).__name__})") from None
    if not stamps:
        raise Invalid("the Evidence Record holds no archive time-stamp")
    return stamps


def decode_validation_data(der: bytes) -> tuple[list[bytes], list[bytes]]:
    """(certificates, CRLs), each DER."""
    parts = expect(read_one(der), SEQUENCE, "validation data").children()
    if len(parts) != 2:
        raise Invalid("malformed validation data")
    certificates = [node.raw for node in expect(parts[0], SEQUENCE, "certificates").children()]
    crls = [node.raw for node in expect(parts[1], SEQUENCE, "CRLs").children()]
    return certificates, crls
