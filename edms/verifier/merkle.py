"""The audit log as a Merkle tree (RFC 9162, Certificate Transparency v2, §2.1), standard library only.

The leaves are the audit events' canonical bytes (exactly what their chain hash covers), in seq order:
leaf hash = SHA-256(0x00 || bytes), interior node = SHA-256(0x01 || left || right); the tree of n leaves
splits at k, the largest power of two smaller than n. A tree head (size, root hash) signed by the system
key and kept outside the database commits to every event up to that size: an inclusion proof shows one
event is in it, a consistency proof that a later tree head extends an earlier one without changing it.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) = SHA-256()

SubtreeHash = Callable[[int, int], bytes]  # MTH(D[start:end])


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """The roots of the perfect subtrees a tree of `size` leaves decomposes into, left to right (one per
    bit of `size`): enough to append leaves and to compute the root hash, in O(log n) memory."""

    def __init__(self, size: int = 0, nodes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(nodes) != bin(size).count("1"):
            raise ValueError("a frontier has one node per bit set in its size")
        self.size = size
        self.nodes = list(nodes)

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash."""
        node, size = leaf, self.size
        while size & 1:  # merge equal perfect subtrees, as a binary counter carries
            node = node_hash(self.nodes.pop(), node)
            size >>= 1
        self.nodes.append(node)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """MTH of the tree: the perfect subtrees folded from the right (RFC 9162 §2.1.1)."""
        if not self.nodes:
            return EMPTY_ROOT
        node = self.nodes[-1]
        for left in reversed(self.nodes[:-1]):
            node = node_hash(left, node)
        return node

    def copy(self) -> Frontier:
        return Frontier(self.size, self.nodes)


def root_hash(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of the given leaf hashes."""
    frontier = Frontier()
    frontier.extend(leaves)
    return frontier.root()


def _subtrees(leaves: Sequence[bytes]) -> SubtreeHash:
    return lambda start, end: root_hash(leaves[start:end])


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) (RFC 9162 §2.1.3.1) for the leaf at `index` of the tree of the given leaf hashes."""
    if not 0 <= index < len(leaves):
        raise ValueError("the leaf is not in the tree")
    return _path(index, 0, len(leaves), _subtrees(leaves))


def inclusion_proof_with(index: int, n: int, mth: SubtreeHash) -> list[bytes]:
    """PATH(m, D[n]) with subtree hashes from `mth(start, end)` (a memo makes many proofs of one tree cheap)."""
    if not 0 <= index < n:
        raise ValueError("the leaf is not in the tree")
    return _path(index, 0, n, mth)


def _path(index: int, start: int, end: int, mth: SubtreeHash) -> list[bytes]:
    if end - start == 1:
        return []
    k = split(end - start)
    if index < k:
        return [*_path(index, start, start + k, mth), mth(start + k, end)]
    return [*_path(index - k, start + k, end, mth), mth(start, start + k)]


def consistency_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) (RFC 9162 §2.1.4.1): the tree of the first m leaves is a prefix of the tree of all."""
    return consistency_proof_with(m, len(leaves), _subtrees(leaves))


def consistency_proof_with(m: int, n: int, mth: SubtreeHash) -> list[bytes]:
    """PROOF(m, D[n]) with subtree hashes from `mth(start, end)`: it only asks for ranges that end at or
    before m or start at or after it, so a frontier of size m and the leaves after m are enough."""
    if not 0 < m <= n:
        raise ValueError("a consistency proof needs 0 < m <= n")
    return _subproof(m, 0, n, True, mth)


def _subproof(m: int, start: int, end: int, whole: bool, mth: SubtreeHash) -> list[bytes]:
    n = end - start
    if m == n:
        return [] if whole else [mth(start, end)]
    k = split(n)
    if m <= k:
        return [*_subproof(m, start, start + k, whole, mth), mth(start + k, end)]
    return [*_subproof(m - k, start + k, end, False, mth), mth(start, start + k)]


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does `proof` show the leaf hash `leaf` at `index` in the tree (`size`, `root`)?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(m: int, n: int, root_m: bytes, root_n: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: does `proof` show the tree (`n`, `root_n`) extends the tree (`m`, `root_m`)?"""
    if not 0 < m <= n:
        return False
    if m == n:
        return not proof and root_m == root_n
    if not proof:
        return False
    path = list(proof)
    if m & (m - 1) == 0:  # m is a power of two: the first tree is a node of the second
        path.insert(0, root_m)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root_m and sr == root_n


def frontier_subtrees(frontier: Frontier, later: Sequence[bytes]) -> SubtreeHash:
    """`mth(start, end)` over a tree known by the frontier of its first `frontier.size` leaves and the
    leaf hashes after them: what a consistency proof from that size needs (see `consistency_proof_with`)."""
    m = frontier.size
    spans: list[tuple[int, int, bytes]] = []  # (start, end, hash) of each perfect subtree of the frontier
    offset = 0
    for bit, node in zip([b for b in reversed(range(m.bit_length())) if m >> b & 1], frontier.nodes, strict=True):
        spans.append((offset, offset + (1 << bit), node))
        offset += 1 << bit

    def mth(start: int, end: int) -> bytes:
        if start >= m:
            return root_hash(later[start - m:end - m])
        inside = [span for span in spans if start <= span[0] and span[1] <= end]
        if not inside or inside[0][0] != start or inside[-1][1] != end:
            raise ValueError("the range is not made of the frontier's subtrees")
        node = inside[-1][2]
        for left in reversed(inside[:-1]):
            node = node_hash(left[2], node)
        return node

    return mth
