"""The audit log's Merkle proofs in an inspection package (optional: packages of earlier versions carry
none): the signed tree heads, an inclusion proof for each event, and the consistency proof from the first
witnessed head holding the package's events to the newest head at export (RFC 9162 §2.1.3, §2.1.4)."""
from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from edms.verifier.audit_log import Event, canonical
from edms.verifier.chain import describe, utc
from edms.verifier.cms import verify_cms
from edms.verifier.constants import TREE_HEAD_TYPE
from edms.verifier.contents import Package, Trust
from edms.verifier.errors import Invalid
from edms.verifier.merkle import leaf_hash, verify_consistency, verify_inclusion
from edms.verifier.report import Report


def _head(entry: Any, trust: Trust) -> tuple[int, bytes, datetime]:
    """A signed tree head: (size, root) once its system signature verifies at its time."""
    if not isinstance(entry, dict):
        raise Invalid("not a tree head")
    size, root, timestamp = entry["tree_size"], entry["root_hash"], entry["timestamp"]
    if not isinstance(size, int) or isinstance(size, bool) or not isinstance(root, str) or not isinstance(timestamp, str):
        raise Invalid("not a tree head")
    payload = canonical({"type": TREE_HEAD_TYPE, "version": 1, "tree_size": size, "root_hash": root,
                         "timestamp": timestamp})
    moment = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    result = verify_cms(base64.b64decode(entry["signature"], validate=True), payload, trust.roots, moment,
                        untrusted=trust.intermediates, crls=trust.crls)
    if result.signer != trust.system:
        raise Invalid(f"signed by {describe(result.signer)}, not by the system certificate")
    return size, bytes.fromhex(root), moment


def check_tree(report: Report, package: Package, trust: Trust, events: dict[int, Event]) -> None:
    path = (package.manifest.get("audit") or {}).get("tree")
    if path is None:
        return  # a package of an earlier version, or exported without a witness
    tree = report.check("audit tree proofs", lambda: json.loads(package.read(path).decode("utf-8")),
                        lambda _tree: f"{path} read")
    if not isinstance(tree, dict):
        return
    newest = report.check("audit tree head", lambda: _head(tree["head"], trust),
                          lambda head: f"tree of {head[0]} events, root {head[1].hex()[:16]}…, signed by the system "
                                       f"at {utc(head[2])}")
    first = report.check("audit tree head holding the package's events", lambda: _head(tree["from_head"], trust),
                         lambda head: f"tree of {head[0]} events, signed by the system at {utc(head[2])}")
    if newest is None or first is None:
        return

    def inclusion() -> str:
        proofs = tree["inclusion"]
        missing = [seq for seq in events if str(seq) not in proofs]
        if missing:
            raise Invalid(f"no inclusion proof for seq {', '.join(map(str, missing[:10]))}")
        for seq, event in events.items():
            proof = [bytes.fromhex(node) for node in proofs[str(seq)]]
            if not verify_inclusion(seq - 1, first[0], leaf_hash(canonical(event.fields)), proof, first[1]):
                raise Invalid(f"seq {seq} is not in the signed tree of {first[0]} events (changed or not the event "
                              "that was witnessed)")
        return f"all {len(events)} events of the package are in the signed tree of {first[0]} events"

    def consistency() -> str:
        proof = [bytes.fromhex(node) for node in tree["consistency"]]
        if not verify_consistency(first[0], newest[0], first[1], newest[1], proof):
            raise Invalid(f"the tree of {newest[0]} events does not extend the tree of {first[0]} events")
        return f"the newest tree head ({newest[0]} events) extends the tree of {first[0]} events unchanged"

    report.check("audit events in the witnessed tree", inclusion, str)
    report.check("audit tree consistency", consistency, str)
