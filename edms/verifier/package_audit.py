"""The audit trail inside an inspection package: every event line, the signed checkpoints, the chain
segments between them, and the events the package is about."""
from __future__ import annotations

import json
from datetime import datetime
from functools import partial
from typing import Any

from edms.verifier.audit_log import (
    Checkpoint,
    Event,
    parse_event,
    segment_problems,
    segments,
)
from edms.verifier.chain import describe, utc
from edms.verifier.cms import signature_value
from edms.verifier.constants import CHECKPOINT_TYPE
from edms.verifier.contents import Package, Trust
from edms.verifier.errors import Invalid
from edms.verifier.report import Report


def check_audit(report: Report, package: Package, trust: Trust) -> dict[int, Event]:
    audit = package.manifest.get("audit") or {}
    events: dict[int, Event] = {}
    try:
        lines = package.read(audit["events"]).split(b"\n")
    except (KeyError, TypeError, Invalid) as exc:
        report.add(False, "audit events", f"unreadable: {exc}")
        return events
    for number, line in enumerate(lines, 1):
        if not line:
            continue
        try:
            event = parse_event(line)
            if event.seq in events:
                raise ValueError("repeated seq")
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            report.add(False, f"audit event on line {number}", f"malformed ({exc})")
            continue
        events[event.seq] = event
    checkpoints: dict[int, Checkpoint] = {}
    for entry in audit.get("checkpoints", []):
        found = report.check(f"audit checkpoint #{_get(entry, 'number')}", partial(_checkpoint, package, trust, entry),
                             _describe_checkpoint)
        if found is not None:
            checkpoints[found[0].seq] = found[0]
    _check_segments(report, events, checkpoints)
    relevant = audit.get("relevant_seqs", [])
    missing = [seq for seq in relevant if seq not in events]
    if missing:
        report.add(False, "audit events of the package", f"seq {', '.join(map(str, missing))} listed as relevant but "
                                                          "not in the events file")
    elif relevant:
        report.add(True, "audit events of the package", f"{len(relevant)} events about the records in this package "
                                                         f"(seq {min(relevant)}–{max(relevant)}) are in the verified chain")
    return events


def _describe_checkpoint(found: tuple[Checkpoint, datetime]) -> str:
    checkpoint, stamped = found
    return (f"signs seq {checkpoint.seq} (head hash {checkpoint.head_hash[:16]}…), system signature valid, "
            f"time-stamped {utc(stamped)}")


def _get(entry: Any, name: str) -> Any:
    return entry.get(name) if isinstance(entry, dict) else None


def _checkpoint(package: Package, trust: Trust, entry: dict[str, Any]) -> tuple[Checkpoint, datetime]:
    directory = entry["dir"].rstrip("/")
    payload = package.read(f"{directory}/payload.json")
    signed = json.loads(payload.decode("utf-8"))
    if not isinstance(signed, dict) or signed.get("type") != CHECKPOINT_TYPE or signed.get("number") != entry.get("number"):
        raise Invalid("payload.json is not the payload of this checkpoint")
    cms = package.read(f"{directory}/signature.p7s")
    if package.read(f"{directory}/sigvalue.bin") != signature_value(cms):
        raise Invalid("sigvalue.bin is not the signature value of signature.p7s")
    result, stamp = trust.signed(cms, package.read(f"{directory}/timestamp.tst"), payload)
    if result.signer != trust.system:
        raise Invalid(f"signed by {describe(result.signer)}, not by the system certificate")
    return Checkpoint(int(signed["number"]), int(signed["seq"]), str(signed["head_hash"])), stamp.gen_time


def _check_segments(report: Report, events: dict[int, Event], checkpoints: dict[int, Checkpoint]) -> None:
    """Runs of consecutive events: every hash recomputes, every link holds, time never goes back, and
    each run ends at an event whose hash a verified checkpoint signed."""
    if not events:
        report.add(False, "audit chain", "the package holds no audit events")
        return
    for run in segments(events):
        name = f"audit chain seq {run[0].seq}–{run[-1].seq}"
        problems = segment_problems(run, checkpoints)
        if problems:
            report.add(False, name, "; ".join(problems))
        else:
            report.add(True, name, f"{len(run)} events: every hash and link recomputes up to the head hash signed by "
                                   f"checkpoint #{checkpoints[run[-1].seq].number}")
