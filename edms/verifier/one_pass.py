"""A one-pass reader of CMS SignedData (RFC 5652) for the shape edms and its TSAs write: the fields the verifier
checks, read by offsets into the one buffer (no node list, no copy, for the levels that are only validated).

It reads exactly what the reference reader (`edms.verifier.cms._read_signed_data_reference`, a node-by-node DER
walk) reads, or declines: for anything else (a shape it does not take, damage of any kind) it raises `Unusual`
and the reference reader decides, so a malformed signature is refused with the reference's own message. It
validates what the reference validates at every level both descend into: every element's tag and length
within its parent (the same forms: short, 0x81 and 0x82 lengths; longer forms, multi-byte tags and anything
past the parent's end are declined), and is stricter elsewhere (declining, never accepting, what the reference
would ignore: extra elements after the ones read, a signed attribute named twice, object identifiers not in
their minimal form where a fixed one is expected). `tests/unit/crypto/test_one_pass_reader.py` compares both readers
on real signatures and on mutated, truncated, re-encoded and hostile variants of them. `elements` also reads
the TimeStampResp around a token and the token's TSTInfo (`edms.verifier.timestamp`), on the same terms.
"""
from __future__ import annotations

from edms.verifier import memo
from edms.verifier.cms_types import SignedData, SignerInfo
from edms.verifier.der import SEQUENCE, Node, _dotted, read_one

# The content type of a ContentInfo holding SignedData (1.2.840.113549.1.7.2), as DER writes it.
_SIGNED_DATA_OID = bytes.fromhex("2a864886f70d010702")
_node = tuple.__new__


class Unusual(Exception):  # noqa: N818 (not an error: the reference reader decides)
    """A shape this reader does not take: the reference reader reads it or says what is wrong with it."""


def elements(data: bytes, start: int, end: int) -> list[int]:
    """Every TLV from `start` to `end`, flattened: tag, start of the element, start and end of its content.
    What `der.read_all(data[start:end])` reads, for the length forms it takes; `Unusual` for anything else."""
    found: list[int] = []
    position = start
    while position < end:
        if position + 2 > end:
            raise Unusual
        tag, length = data[position], data[position + 1]
        if tag & 0x1F == 0x1F:
            raise Unusual
        if length < 0x80:
            begin = position + 2
        elif length == 0x81 and position + 3 <= end:
            begin, length = position + 3, data[position + 2]
        elif length == 0x82 and position + 4 <= end:
            begin, length = position + 4, data[position + 2] << 8 | data[position + 3]
        else:
            raise Unusual
        stop = begin + length
        if stop > end:
            raise Unusual
        found += (tag, position, begin, stop)
        position = stop
    return found


def certificate_set(raw: bytes) -> tuple[bytes, ...]:
    """The DER of each certificate in a CMS certificate set (whole, its [0] tag included): the same bytes in
    every signature by one signer, read once per run (both readers use it)."""
    return tuple(node.raw for node in read_one(raw).children() if node.tag == SEQUENCE)


def read_signed_data(der: bytes) -> SignedData:
    """The SignedData in a ContentInfo, as the reference reader reads it, or `Unusual` (or the `Invalid` of a
    part read by the code the reference shares: the reference then decides)."""
    top = elements(der, 0, len(der))
    if len(top) != 4 or top[0] != 0x30:
        raise Unusual
    info = elements(der, top[2], top[3])
    if len(info) != 8 or info[0] != 0x06 or der[info[2]:info[3]] != _SIGNED_DATA_OID or info[4] != 0xA0:
        raise Unusual
    wrapper = elements(der, info[6], info[7])
    if len(wrapper) != 4 or wrapper[0] != 0x30:
        raise Unusual
    fields = elements(der, wrapper[2], wrapper[3])
    if len(fields) < 16 or fields[0] != 0x02 or fields[4] != 0x31 or fields[8] != 0x30:
        raise Unusual
    encapsulated = elements(der, fields[10], fields[11])
    content = None
    if len(encapsulated) == 8 and encapsulated[4] == 0xA0:
        inner = elements(der, encapsulated[6], encapsulated[7])
        if len(inner) != 4 or inner[0] != 0x04:
            raise Unusual
        content = der[inner[2]:inner[3]]
    elif len(encapsulated) != 4:
        raise Unusual
    if encapsulated[0] != 0x06:
        raise Unusual
    at = 12
    certificates: tuple[bytes, ...] = ()
    if fields[at] == 0xA0:
        certificates = memo.shared("certificate set", der[fields[at + 1]:fields[at + 3]], certificate_set)
        at += 4
    if at < len(fields) and fields[at] == 0xA1:  # CRLs inside the signature: not used
        at += 4
    if at + 4 != len(fields) or fields[at] != 0x31:
        raise Unusual
    infos = elements(der, fields[at + 2], fields[at + 3])
    signers = []
    for index in range(0, len(infos), 4):
        if infos[index] != 0x30:
            raise Unusual
        signers.append(_signer_info(der, infos[index + 2], infos[index + 3]))
    return SignedData(_dotted(der[encapsulated[2]:encapsulated[3]]), content, certificates, tuple(signers))


def _signer_info(der: bytes, start: int, end: int) -> SignerInfo:
    fields = elements(der, start, end)
    count = len(fields)
    if count < 20 or fields[0] != 0x02:
        raise Unusual
    issuer = serial = key_id = None
    if fields[4] == 0x30:
        sid = elements(der, fields[6], fields[7])
        if len(sid) != 8 or sid[4] != 0x02:
            raise Unusual
        issuer = der[sid[1]:sid[3]]
        serial = int.from_bytes(der[sid[6]:sid[7]], "big", signed=True)
    elif fields[4] == 0x80:
        key_id = der[fields[6]:fields[7]]
    else:
        raise Unusual
    digest_oid = _first_oid(der, fields, 8)
    at = 12
    signed_attrs = None
    attributes: dict[str, list[Node]] = {}
    if fields[at] == 0xA0:
        begin, stop = fields[at + 2], fields[at + 3]
        signed_attrs = _node(Node, (0xA0, der[begin:stop], der[fields[at + 1]:stop]))
        listed = elements(der, begin, stop)
        for index in range(0, len(listed), 4):
            if listed[index] != 0x30:
                raise Unusual
            pair = elements(der, listed[index + 2], listed[index + 3])
            if len(pair) != 8 or pair[0] != 0x06 or pair[4] != 0x31:
                raise Unusual
            name = _dotted(der[pair[2]:pair[3]])
            if name in attributes:
                raise Unusual
            values = elements(der, pair[6], pair[7])
            if len(values) == 4:  # one value, as every attribute edms reads has: no comprehension to run
                attributes[name] = [_node(Node, (values[0], der[values[2]:values[3]], der[values[1]:values[3]]))]
            else:
                attributes[name] = [_node(Node, (values[i], der[values[i + 2]:values[i + 3]],
                                                 der[values[i + 1]:values[i + 3]])) for i in range(0, len(values), 4)]
        at += 4
    if count < at + 8 or fields[at + 4] != 0x04:
        raise Unusual
    signature_oid = _first_oid(der, fields, at)
    return SignerInfo(issuer, serial, key_id, digest_oid, signed_attrs, attributes, signature_oid,
                      der[fields[at + 6]:fields[at + 7]])


def _first_oid(der: bytes, fields: list[int], at: int) -> str:
    """The algorithm OID of an AlgorithmIdentifier SEQUENCE (its first element)."""
    if fields[at] != 0x30:
        raise Unusual
    algorithm = elements(der, fields[at + 2], fields[at + 3])
    if not algorithm or algorithm[0] != 0x06:
        raise Unusual
    return _dotted(der[algorithm[2]:algorithm[3]])
