"""The DER reader's inlined walk over a structure's elements (issue #15: a call per node was a fifth of a
cold verification) reads exactly what the one-node reader reads, and refuses exactly what it refuses, on
random and hostile bytes."""
from __future__ import annotations

import random

from edms.verifier import der
from edms.verifier.errors import Invalid


def one_node_at_a_time(data: bytes) -> list[der.Node]:
    nodes, offset = [], 0
    while offset < len(data):
        node, offset = der._read(data, offset)
        nodes.append(node)
    return nodes


def outcome(read, data: bytes) -> tuple[str, object]:
    try:
        return "read", read(data)
    except Invalid as exc:
        return "refused", str(exc)


def test_every_structure_is_read_or_refused_as_the_one_node_reader_does():
    rng = random.Random(15)
    interesting = [0x30, 0x31, 0x02, 0x04, 0x1F, 0x3F, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0xFF, 0x00, 0x01, 0x05]
    for _ in range(30_000):
        size = rng.choice([0, 1, 2, 3, 4, 5, 8, 20, 300])
        data = bytes(rng.choice(interesting) if rng.random() < 0.7 else rng.randrange(256) for _ in range(size))
        assert outcome(der.read_all, data) == outcome(one_node_at_a_time, data), data.hex()


def test_long_forms_up_to_four_length_bytes_are_read_alike():
    body = bytes(range(256)) * 300  # 76 800 bytes: a three-byte length
    for data in (b"\x04\x81\x80" + body[:128], b"\x04\x82\x01\x00" + body[:256], b"\x04\x83\x01\x2c\x00" + body,
                 b"\x04\x81\x05abc", b"\x04\x82\x00\x03abc\x02\x01\x07"):
        assert outcome(der.read_all, data) == outcome(one_node_at_a_time, data)
