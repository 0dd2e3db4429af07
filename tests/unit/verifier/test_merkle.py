"""The audit log's Merkle tree against RFC 9162 §2.1: known roots, and trees built by hand from the definition."""
from __future__ import annotations

import hashlib

import pytest

from edms.verifier.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    consistency_proof_with,
    frontier_subtrees,
    inclusion_proof,
    leaf_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

# The leaves and roots of the RFC 6962/9162 reference test vectors (certificate-transparency).
VECTOR_LEAVES = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
                 bytes(range(0x50, 0x58)), bytes(range(0x60, 0x70))]
VECTOR_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
SIZES = range(1, 18)


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def by_hand(leaves: list[bytes]) -> bytes:
    """MTH straight from RFC 9162 §2.1.1, on the leaves' data."""
    if not leaves:
        return h(b"")
    if len(leaves) == 1:
        return h(b"\x00" + leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return h(b"\x01" + by_hand(leaves[:k]) + by_hand(leaves[k:]))


def data(n: int) -> list[bytes]:
    return [f"event {i}".encode() for i in range(n)]


@pytest.mark.req("WITNESS")
def test_the_reference_vectors():
    hashes = [leaf_hash(leaf) for leaf in VECTOR_LEAVES]
    assert [root_hash(hashes[:n]).hex() for n in range(1, 9)] == VECTOR_ROOTS
    assert root_hash([]) == EMPTY_ROOT == h(b"")


def test_three_leaves_by_hand():
    a, b, c = (h(b"\x00" + x) for x in (b"a", b"b", b"c"))
    assert root_hash([a, b, c]) == h(b"\x01" + h(b"\x01" + a + b) + c)


@pytest.mark.req("WITNESS")
@pytest.mark.parametrize("n", SIZES)
def test_roots_and_inclusion_proofs(n):
    leaves = data(n)
    hashes = [leaf_hash(leaf) for leaf in leaves]
    root = root_hash(hashes)
    assert root == by_hand(leaves)
    frontier = Frontier()
    frontier.extend(hashes)
    assert frontier.root() == root and frontier.size == n
    for index in range(n):
        proof = inclusion_proof(index, hashes)
        assert verify_inclusion(index, n, hashes[index], proof, root)
        assert not verify_inclusion(index, n, leaf_hash(b"forged"), proof, root)
        if proof:
            assert not verify_inclusion(index, n, hashes[index], proof[:-1], root)
            assert not verify_inclusion(index, n, hashes[index], [*proof[:-1], h(b"x")], root)
        if n > 1:
            assert not verify_inclusion((index + 1) % n, n, hashes[index], proof, root)


@pytest.mark.req("WITNESS")
@pytest.mark.parametrize("n", SIZES)
def test_consistency_proofs_for_every_earlier_size(n):
    hashes = [leaf_hash(leaf) for leaf in data(n)]
    root_n = root_hash(hashes)
    for m in range(1, n + 1):
        root_m = root_hash(hashes[:m])
        assert root_m == by_hand(data(m))
        proof = consistency_proof(m, hashes)
        assert verify_consistency(m, n, root_m, root_n, proof), (m, n)
        # The same proof from a frontier of size m and the leaves after it (what edms keeps).
        frontier = Frontier()
        frontier.extend(hashes[:m])
        assert consistency_proof_with(m, n, frontier_subtrees(frontier, hashes[m:])) == proof
        if m < n:
            assert proof
            assert not verify_consistency(m, n, h(b"other"), root_n, proof)
            assert not verify_consistency(m, n, root_m, h(b"other"), proof)
            assert not verify_consistency(m, n, root_m, root_n, proof[:-1])
            assert not verify_consistency(m, n, root_m, root_n, [])
            changed = [*hashes[:m - 1], leaf_hash(b"rewritten"), *hashes[m:]]
            assert not verify_consistency(m, n, root_m, root_hash(changed), consistency_proof(m, changed))


def test_frontier_round_trip_and_shape():
    frontier = Frontier()
    frontier.extend(leaf_hash(leaf) for leaf in data(13))
    assert len(frontier.nodes) == 3  # 13 = 8 + 4 + 1
    again = Frontier(13, frontier.nodes)
    again.append(leaf_hash(b"x"))
    assert again.root() == root_hash([*(leaf_hash(leaf) for leaf in data(13)), leaf_hash(b"x")])
    with pytest.raises(ValueError):
        Frontier(13, frontier.nodes[:2])
