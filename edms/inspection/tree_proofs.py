"""The audit log's Merkle proofs an inspection package carries (docs/audit-log-format.md): the newest signed
tree head of the witness at export, an inclusion proof for each of the package's events in it, and a
consistency proof to it from the first witnessed head that holds every event of the package.

Optional: without a witness (or when the database no longer gives the witnessed root, which `edms verify`
reports) the package carries none, and it still verifies through its hash chain and checkpoints."""
from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from edms.audit.witness import TreeHead, leaves_after, read_heads
from edms.timeutil import isoformat_utc
from edms.verifier.merkle import (
    SubtreeHash,
    consistency_proof_with,
    inclusion_proof_with,
    node_hash,
    root_hash,
    split,
)

log = logging.getLogger("edms")

TREE_FILE = "audit/tree.json"


def _head_json(head: TreeHead) -> dict[str, Any]:
    return {"tree_size": head.tree_size, "root_hash": head.root_hash, "timestamp": isoformat_utc(head.timestamp),
            "signature": base64.b64encode(head.signature).decode("ascii")}


def tree_proofs(session: Session, witness: Path, seqs: Sequence[int]) -> dict[str, Any] | None:
    """The proofs for the events `seqs`, or None if there is no witnessed head that holds them all."""
    heads = []
    for _number, line in read_heads(witness):
        try:
            heads.append(TreeHead.from_line(line))
        except (ValueError, KeyError, TypeError):
            continue
    if not heads or not seqs or heads[-1].tree_size < max(seqs):
        return None
    newest = heads[-1]
    leaves = leaves_after(session, 0)[:newest.tree_size]
    if len(leaves) < newest.tree_size or root_hash(leaves).hex() != newest.root_hash:
        log.warning("the database's audit events do not give the newest witnessed tree head: no proofs in the package")
        return None
    first = next(head for head in heads if head.tree_size >= max(seqs))
    mth = _memoised_subtrees(leaves)
    if root_hash(leaves[:first.tree_size]).hex() != first.root_hash:
        first = newest
    return {
        "head": _head_json(newest),
        "from_head": _head_json(first),
        "consistency": [node.hex() for node in consistency_proof_with(first.tree_size, len(leaves), mth)],
        "inclusion": {str(seq): [node.hex() for node in inclusion_proof_with(seq - 1, first.tree_size, mth)]
                      for seq in sorted(set(seqs))},
    }


def _memoised_subtrees(leaves: Sequence[bytes]) -> SubtreeHash:
    """MTH(D[start:end]) of the leaves, each subtree hashed once however many proofs ask for it: proofs of
    one tree share most of their nodes (issue 15), and MTH of a range is its two halves' split at k."""
    memo: dict[tuple[int, int], bytes] = {}

    def mth(start: int, end: int) -> bytes:
        if end - start == 1:
            return leaves[start]
        found = memo.get((start, end))
        if found is None:
            if end <= start:
                return root_hash(())
            middle = start + split(end - start)
            found = memo[(start, end)] = node_hash(mth(start, middle), mth(middle, end))
        return found

    return mth
