"""A minimal DER reader: just enough ASN.1 for CMS SignedData, RFC 3161 and ESS attributes.

Every malformed input raises `Invalid`, never IndexError or another surprise, so the verifier can say
what is wrong instead of crashing.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

from edms.verifier.errors import Invalid

SEQUENCE, SET, INTEGER, BIT_STRING, OCTETS, OID, UTF8_STRING = 0x30, 0x31, 0x02, 0x03, 0x04, 0x06, 0x0C
UTC_TIME, GENERALIZED_TIME = 0x17, 0x18
CONTEXT_0, CONTEXT_1, IMPLICIT_0 = 0xA0, 0xA1, 0x80


class Node(NamedTuple):
    """One DER TLV: its (single-byte) tag, its content octets and its whole encoding. (A tuple: a signature's
    structures make a few hundred of them, and a tuple is the cheapest immutable record to make.)"""

    tag: int
    content: bytes
    raw: bytes

    def children(self) -> list[Node]:
        if not self.tag & 0x20:
            raise Invalid("malformed DER: a primitive value where a structure was expected")
        return read_all(self.content)


# What `Node(tag, content, raw)` does, without the Python frame of a NamedTuple's generated __new__.
_node = tuple.__new__


def _read(data: bytes, offset: int) -> tuple[Node, int]:
    try:
        tag = data[offset]
        if tag & 0x1F == 0x1F:
            raise Invalid("malformed DER: multi-byte tags are not used by these structures")
        length = data[offset + 1]
        start = offset + 2
        if length & 0x80:
            count = length & 0x7F
            if count == 0 or count > 4:
                raise Invalid("malformed DER: indefinite or oversized length")
            if start + count > len(data):
                raise Invalid("malformed DER: truncated")
            length = int.from_bytes(data[start:start + count], "big")
            start += count
    except IndexError:
        raise Invalid("malformed DER: truncated") from None
    end = start + length
    if end > len(data):
        raise Invalid("malformed DER: truncated")
    return _node(Node, (tag, data[start:end], data[offset:end])), end


def read_all(data: bytes) -> list[Node]:
    """Every TLV in `data`, in order. `_read` inlined for the common short forms (a signature's structures
    make a few hundred nodes, and a call per node was a fifth of a cold verification); anything else,
    malformed input included, goes through `_read`, so the result and the errors are `_read`'s."""
    nodes: list[Node] = []
    append = nodes.append
    offset, size = 0, len(data)
    while offset < size:
        if offset + 2 <= size:
            tag, length = data[offset], data[offset + 1]
            if tag & 0x1F != 0x1F:
                if length < 0x80:
                    start, end = offset + 2, offset + 2 + length
                elif length == 0x81 and offset + 3 <= size:
                    start = offset + 3
                    end = start + data[offset + 2]
                elif length == 0x82 and offset + 4 <= size:
                    start = offset + 4
                    end = start + (data[offset + 2] << 8 | data[offset + 3])
                else:
                    end = -1
                if 0 <= end <= size:
                    append(_node(Node, (tag, data[start:end], data[offset:end])))
                    offset = end
                    continue
        node, offset = _read(data, offset)
        append(node)
    return nodes


def read_one(data: bytes) -> Node:
    node, end = _read(data, 0)
    if end != len(data):
        raise Invalid("malformed DER: bytes after the structure")
    return node


def child(node: Node, index: int, what: str) -> Node:
    """The `index`-th element of a structure, or Invalid naming `what` was expected there."""
    children = node.children()
    if index >= len(children):
        raise Invalid(f"malformed {what}")
    return children[index]


def expect(node: Node, tag: int, what: str) -> Node:
    if node.tag != tag:
        raise Invalid(f"malformed {what}")
    return node


def oid(node: Node) -> str:
    expect(node, OID, "object identifier")
    return _dotted(node.content)


@lru_cache(maxsize=256)  # a handful of OIDs recur in every signature
def _dotted(content: bytes) -> str:
    arcs, value = [], 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if not arcs:
        raise Invalid("malformed object identifier")
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in (first, arcs[0] - 40 * first, *arcs[1:]))


def integer(node: Node) -> int:
    return int.from_bytes(expect(node, INTEGER, "integer").content, "big", signed=True)


def moment(node: Node) -> datetime:
    """UTCTime or GeneralizedTime (UTC, "Z"), fractions of a second kept."""
    text = node.content.decode("ascii", "replace")
    if node.tag == UTC_TIME:
        if not text[:2].isdigit():
            raise Invalid(f"malformed time {text!r}")
        text = ("19" if int(text[:2]) >= 50 else "20") + text
    elif node.tag != GENERALIZED_TIME:
        raise Invalid("malformed time")
    if not text.endswith("Z") or len(text) < 15:
        raise Invalid(f"unsupported time {text!r}")
    whole, _, fraction = text[:-1].partition(".")
    try:
        if len(whole) == 14 and whole.isascii() and whole.isdigit():  # what strptime accepts of 14 digits, faster
            value = datetime(int(whole[:4]), int(whole[4:6]), int(whole[6:8]), int(whole[8:10]), int(whole[10:12]),
                             int(whole[12:]), tzinfo=UTC)
        else:
            value = datetime.strptime(whole, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        if fraction:
            value += timedelta(microseconds=round(float(f"0.{fraction}") * 1_000_000))
    except (ValueError, OverflowError):
        raise Invalid(f"malformed time {text!r}") from None
    return value
