"""The audit log's hash chain: an event's hash over its canonical JSON, the previous-hash links, and
segments of the chain ending at a checkpoint whose signed head hash is the segment's last event's."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from edms.verifier.constants import AUDIT_HASHED_FIELDS, GENESIS_HASH, SIGNED_ACTIONS

_FIELDS = frozenset(AUDIT_HASHED_FIELDS)


def event_hash(canonical_line: bytes) -> str:
    """An event line is exactly the canonical JSON edms hashed (RFC 8785 for this flat domain)."""
    return hashlib.sha256(canonical_line).hexdigest()


def canonical(event: Mapping[str, Any]) -> bytes:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Event:
    seq: int
    fields: dict[str, Any]
    hash: str


@dataclass(frozen=True)
class Checkpoint:
    """A verified checkpoint: it signed `head_hash` as the hash of event `seq`."""

    number: int
    seq: int
    head_hash: str


def parse_event(line: bytes) -> Event:
    """One line of an events file; ValueError says why it is not a canonical audit event."""
    fields = json.loads(line.decode("utf-8"))
    if not isinstance(fields, dict) or set(fields) != _FIELDS:
        raise ValueError("not the fields of an audit event")
    if canonical(fields) != line:
        raise ValueError("not in canonical form")
    seq = fields["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise ValueError("missing seq")
    return Event(seq, fields, event_hash(line))


def link_problems(previous: Event | None, event: Event) -> list[str]:
    """What is wrong between one event and the one before it (None: the event is the first of the chain)."""
    problems = []
    if previous is None:
        if event.seq == 1 and event.fields["prev_hash"] != GENESIS_HASH:
            problems.append("seq 1 does not start from the genesis hash")
        return problems
    if event.fields["prev_hash"] != previous.hash:
        problems.append(f"seq {event.seq}: previous-hash link broken (seq {previous.seq} changed, removed or reordered)")
    if str(event.fields["occurred_at"]) < str(previous.fields["occurred_at"]):
        problems.append(f"seq {event.seq}: time earlier than seq {previous.seq}")
    return problems


def segments(events: Mapping[int, Event]) -> list[list[Event]]:
    """Runs of consecutive events."""
    runs: list[list[Event]] = []
    for seq in sorted(events):
        if runs and runs[-1][-1].seq == seq - 1:
            runs[-1].append(events[seq])
        else:
            runs.append([events[seq]])
    return runs


def segment_problems(run: list[Event], checkpoints: Mapping[int, Checkpoint]) -> list[str]:
    """Every link holds, time never goes back, every checkpoint inside signed what is there, and a
    verified checkpoint signs the run's last event."""
    problems = link_problems(None, run[0])
    for previous, event in pairwise(run):
        problems += link_problems(previous, event)
    for event in run:
        checkpoint = checkpoints.get(event.seq)
        if checkpoint is not None and checkpoint.head_hash != event.hash:
            problems.append(f"seq {event.seq}: hash {event.hash[:16]}… is not the head hash checkpoint "
                            f"#{checkpoint.number} signed ({checkpoint.head_hash[:16]}…): changed after it was signed")
    if run[-1].seq not in checkpoints:
        problems.append(f"no verified checkpoint signs seq {run[-1].seq}, the end of this segment")
    return problems


def new_value(event: Event, name: str) -> Any:
    try:
        return json.loads(event.fields["changes"])[name]["new"]
    except (TypeError, ValueError, KeyError):
        return None


def index(events: Iterable[Event]) -> tuple[dict[str, Event], dict[tuple[str, Any], list[Event]]]:
    """Signature events by signature id, submission events by (document id, version)."""
    signatures: dict[str, Event] = {}
    submissions: dict[tuple[str, Any], list[Event]] = {}
    for event in events:
        fields = event.fields
        try:
            changes = json.loads(fields["changes"]) if fields["changes"] else {}
            if fields["action"] in SIGNED_ACTIONS:
                signature = (changes.get("signature") or {}).get("new") or {}
                if signature.get("signature_id"):
                    signatures[signature["signature_id"]] = event
            elif fields["action"] == "document.submitted":
                submissions.setdefault((fields["object_id"], fields["document_version"]), []).append(event)
        except (TypeError, ValueError, AttributeError):
            continue
    return signatures, submissions
