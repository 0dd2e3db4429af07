"""The export computes the Merkle proofs of many events of one tree with each subtree hashed once (issue 15):
every proof is exactly the one the reference path (edms.verifier.merkle, hashing each range afresh) gives."""
from __future__ import annotations

import hashlib

import pytest

from edms.inspection.tree_proofs import _memoised_subtrees
from edms.verifier import merkle


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(f"event {i}".encode()) for i in range(n)]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 64, 100])
def test_shared_subtree_hashes_give_the_reference_inclusion_and_consistency_proofs(n):
    tree = leaves(n)
    mth = _memoised_subtrees(tree)
    for m in range(1, n + 1):
        for index in range(m):
            assert merkle.inclusion_proof_with(index, m, mth) == merkle.inclusion_proof(index, tree[:m])
        assert merkle.consistency_proof_with(m, n, mth) == merkle.consistency_proof(m, tree)


def test_after_a_leaf_changes_the_proofs_of_the_others_change_as_the_reference_ones_do():
    tree = leaves(21)
    tampered = [*tree[:7], hashlib.sha256(b"altered").digest(), *tree[8:]]
    for index in (0, 3, 6, 8, 20):
        proof = merkle.inclusion_proof_with(index, len(tampered), _memoised_subtrees(tampered))
        assert proof == merkle.inclusion_proof(index, tampered)
        assert proof != merkle.inclusion_proof_with(index, len(tree), _memoised_subtrees(tree))


def test_a_leaf_outside_the_tree_has_no_proof():
    with pytest.raises(ValueError):
        merkle.inclusion_proof_with(5, 5, _memoised_subtrees(leaves(5)))
