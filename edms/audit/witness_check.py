"""`edms verify` against the witness: the database's audit events must still give every tree head the
witness holds (WITNESS, 21 CFR 11.10(e), ER/ES authenticity).

The tree is recomputed over the database's events in seq order. Each witnessed head must carry a valid
system signature, and the database's tree at its size must have its root hash; successive heads must be
consistent (an RFC 9162 consistency proof from the earlier to the later one verifies). Removing or
rewriting any witnessed event, the newest included, or removing a checkpoint row with the events after
the one before it, is a problem. Events after the newest witnessed head (a crash between a commit and its
witness, or a witness that was unreachable) are a warning with their count, never passed silently.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text

from edms.audit.integrity import VerificationRun, batch_leaves, chain_rows_sql
from edms.audit.witness import TreeHead, read_heads
from edms.crypto.cms import verify_detached
from edms.errors import N_
from edms.verifier.merkle import Frontier, consistency_proof_with, frontier_subtrees, leaf_hash, verify_consistency

if TYPE_CHECKING:
    from edms.pki import TrustAnchors

TABLE = "audit_witness"


@dataclass
class _Size:
    """The witnessed heads of one tree size, in the order of the file."""

    size: int
    heads: list[tuple[int, TreeHead]] = field(default_factory=list)


def check_witness(run: VerificationRun) -> None:
    path: Path | None = run.options.get("witness_file")
    if path is None:
        run.warning(TABLE, "*", N_("no witness is configured: the newest events cannot be proven complete"))
        return
    trust: TrustAnchors | None = run.options.get("trust")
    heads = _read(run, Path(path), trust)
    run.examined(TABLE, len(heads))
    sizes = _ordered_sizes(run, heads)
    total = _compare(run, sizes)
    witnessed = max((entry.size for entry in sizes), default=0)
    if total > witnessed:
        run.warning("audit_event", f"seq {witnessed + 1}–{total}" if total > witnessed + 1 else f"seq {total}",
                    N_("%(count)s event(s) after the newest witnessed tree head (size %(size)s) are not witnessed yet "
                       "(a crash between a commit and its witness, or the witness was unreachable)"),
                    count=total - witnessed, size=witnessed)


def _read(run: VerificationRun, path: Path, trust: TrustAnchors | None) -> list[tuple[int, TreeHead]]:
    """The authentic heads of the file; every line that is not one is reported, and the check goes on."""
    heads: list[tuple[int, TreeHead]] = []
    for number, line in read_heads(path):
        key = f"line {number}"
        try:
            head = TreeHead.from_line(line)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError) as exc:
            run.problem(TABLE, key, N_("not a tree head edms wrote (%(error)s)"), error=str(exc))
            continue
        if trust is not None:
            signed = verify_detached(head.signature, head.payload(), trust.roots, at=head.timestamp)
            if not signed.ok:
                run.problem(TABLE, key, N_("system signature of the tree head invalid: %(reason)s"), reason=signed.reason)
                continue
            if signed.signer_cert != trust.system_cert:
                run.problem(TABLE, key, N_("the tree head is not signed by the system's own key"))
                continue
        heads.append((number, head))
    return heads


def _ordered_sizes(run: VerificationRun, heads: list[tuple[int, TreeHead]]) -> list[_Size]:
    """Heads grouped by size; a head smaller than one before it (the log shrank) is a problem of its own."""
    sizes: list[_Size] = []
    for number, head in heads:
        if sizes and head.tree_size < sizes[-1].size:
            run.problem(TABLE, f"line {number}",
                        N_("tree size %(size)s is smaller than %(before)s witnessed before it (the log shrank)"),
                        size=head.tree_size, before=sizes[-1].size)
            continue
        if not sizes or head.tree_size != sizes[-1].size:
            sizes.append(_Size(head.tree_size))
        sizes[-1].heads.append((number, head))
    return sizes


def _compare(run: VerificationRun, sizes: list[_Size]) -> int:
    """Stream the database's events into the tree, comparing at each witnessed size. Returns the event count."""
    statement = text(chain_rows_sql(run.dialect))
    batch_size = run.options["batch_size"]
    frontier, previous = Frontier(), (Frontier(), "")
    since: list[bytes] = []
    pending = iter(sizes)
    target = next(pending, None)
    while target is not None and target.size == 0:
        _at_size(run, target, frontier, previous, since)
        target = next(pending, None)
    mismatched = False
    after = 0
    while True:
        rows = run.connection.execute(statement, {"after": after, "limit": batch_size}).all()
        if not rows:
            break
        after = rows[-1].seq
        for leaf in map(leaf_hash, batch_leaves(run.dialect, rows)):
            frontier.append(leaf)
            since.append(leaf)
            while target is not None and target.size == frontier.size:
                if not mismatched:
                    mismatched = not _at_size(run, target, frontier, previous, since)
                previous, since = (frontier.copy(), target.heads[-1][1].root_hash), []
                target = next(pending, None)
    if target is not None:
        number, head = target.heads[0]
        run.problem("audit_event", f"seq {frontier.size + 1}–{head.tree_size}" if head.tree_size > frontier.size + 1
                    else f"seq {head.tree_size}",
                    N_("the witness (line %(line)s) holds a signed tree of %(size)s events but the database holds "
                       "%(count)s: witnessed events were removed"),
                    line=number, size=head.tree_size, count=frontier.size)
    return frontier.size


def _at_size(run: VerificationRun, target: _Size, frontier: Frontier, previous: tuple[Frontier, str],
             since: list[bytes]) -> bool:
    """The database's tree at this size against every head of this size, and the consistency proof from the
    previous witnessed size. True if they all agree (after a first disagreement later sizes are not named)."""
    root = frontier.root().hex()
    agree = True
    for number, head in target.heads:
        if head.root_hash != root:
            run.problem("audit_event", f"seq 1–{target.size}",
                        N_("the database's events give another tree than the one the witness signed at size %(size)s "
                           "(line %(line)s): an event up to seq %(size)s was removed, inserted or rewritten"),
                        size=target.size, line=number)
            agree = False
            break
    earlier, earlier_root = previous
    if agree and earlier.size and earlier.size < target.size:
        proof = consistency_proof_with(earlier.size, target.size, frontier_subtrees(earlier, since))
        if not verify_consistency(earlier.size, target.size, bytes.fromhex(earlier_root),
                                  bytes.fromhex(target.heads[0][1].root_hash), proof):
            run.problem(TABLE, f"line {target.heads[0][0]}",
                        N_("the tree head of size %(size)s is not consistent with the one of size %(before)s"),
                        size=target.size, before=earlier.size)
            agree = False
    return agree
