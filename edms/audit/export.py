"""The audit trail as CSV and JSON Lines: complete, with the hashes, so a copy can be checked independently."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from edms.audit.search import StoredEvent, event_json
from edms.timeutil import format_in_zone, isoformat_utc

CSV_COLUMNS = (
    "seq", "occurred_at_utc", "occurred_at_local", "actor_id", "actor_name", "action", "object_type", "object_id",
    "document_version", "case_id", "reason", "changes", "request_id", "client_addr", "app_version", "prev_hash", "hash",
)
EXPORT_FORMATS = ("csv", "jsonl")
# Lines per chunk written to the response: the download streams without holding the export in memory.
CHUNK = 200


# A cell a spreadsheet would run as a formula (CSV injection): text typed by users, e.g. a reason.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """Text starting like a formula gets a leading apostrophe, the spreadsheet convention for "this is
    text"; everything else is unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_chunks(events: Iterable[StoredEvent], zone: str) -> Iterator[str]:
    """CSV (RFC 4180, UTF-8 with a byte-order mark so spreadsheet programs read Japanese correctly).

    Values are exported as stored, `changes` as its canonical JSON: an accurate copy (11.10(b)), except
    that text starting like a spreadsheet formula gets a leading apostrophe so that opening the file
    cannot run it. The JSON Lines export is the byte-exact copy that rehashes to the chain.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(CSV_COLUMNS)
    for count, event in enumerate(events, 1):
        writer.writerow([spreadsheet_safe(value) for value in (
            event.seq, isoformat_utc(event.occurred_at), format_in_zone(event.occurred_at, zone), event.actor_id,
            event.actor_name, event.action, event.object_type, event.object_id, event.document_version, event.case_id,
            event.reason, event.changes, event.request_id, event.client_addr, event.app_version, event.prev_hash,
            event.hash,
        )])
        if count % CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def jsonl_chunks(events: Iterable[StoredEvent]) -> Iterator[str]:
    lines: list[str] = []
    for event in events:
        lines.append(json.dumps(event_json(event), ensure_ascii=False, separators=(",", ":")) + "\n")
        if len(lines) == CHUNK:
            yield "".join(lines)
            lines = []
    yield "".join(lines)
