"""`edms verify` cross-checks between the records and the audit trail (21 CFR 11.10(a),(e); ER/ES authenticity).

Someone with database access could add a row, or rewrite a frozen version's content with its stored hash,
or swap an attachment's file with the version hash recomputed: each table would still agree with itself.
These checks hold every record to the audit trail, which the witness and the checkpoints protect:
- every document, version, case, delegation, signature and user row has the audit event that created it;
- each frozen version's content hash is the one its submission event recorded;
- each attachment's hash is one recorded when a file was uploaded to that document.
A malformed row is reported as a problem of its own and the check goes on.
"""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from edms.audit.integrity import VerificationRun
from edms.audit.models import AuditEvent
from edms.cases.models import Case
from edms.documents import models as m
from edms.errors import N_
from edms.signatures.models import Signature
from edms.users.models import User
from edms.verifier.constants import SIGNED_ACTIONS
from edms.workflow.models import Delegation

_MISSING = N_("no audit event records its creation (%(action)s): written outside edms")
_ACTIONS = ("document.created", "document.revised", "document.submitted", "document.attachment_added", "case.created",
            "delegation.created", "user.created", *SIGNED_ACTIONS)


class _Events:
    """What the audit trail says about the records, read once per run."""

    def __init__(self, run: VerificationRun) -> None:
        self.created: set[tuple[str, str, str]] = set()  # (action, object_type, object_id)
        self.versions: set[tuple[str, int | None]] = set()  # (document id, version) created or revised
        self.submitted: dict[tuple[str, int | None], list[Any]] = defaultdict(list)  # content hashes recorded
        self.uploaded: dict[str, set[Any]] = defaultdict(set)  # document id -> attachment hashes
        self.signatures: set[Any] = set()
        rows = run.connection.execute(
            select(AuditEvent.action, AuditEvent.object_type, AuditEvent.object_id, AuditEvent.document_version,
                   AuditEvent.changes).where(AuditEvent.action.in_(_ACTIONS)))
        for action, object_type, object_id, version, changes in rows:
            self.created.add((action, object_type, str(object_id)))
            if action in ("document.created", "document.revised"):
                self.versions.add((str(object_id), version))
            elif action == "document.submitted":
                self.submitted[(str(object_id), version)].append(_new(changes, "content_sha256"))
            elif action == "document.attachment_added":
                self.uploaded[str(object_id)].add((_new(changes, "attachment") or {}).get("sha256"))
            elif action in SIGNED_ACTIONS:
                self.signatures.add((_new(changes, "signature") or {}).get("signature_id"))


def _new(changes: str | None, name: str) -> Any:
    try:
        value = json.loads(changes or "{}")[name]["new"]
    except (TypeError, ValueError, KeyError):
        return None
    return value


def _events(run: VerificationRun) -> _Events:
    if "record_events" not in run.state:
        run.state["record_events"] = _Events(run)
    found: _Events = run.state["record_events"]
    return found


def _each(run: VerificationRun, table: str, rows: Iterable[Any], check: Any) -> None:
    """`check(row)` for every row; a row too malformed to check is reported and the next one checked."""
    for row in rows:
        run.examined("record_event_links")
        try:
            check(row)
        except Exception as exc:  # noqa: BLE001 (one malformed row never stops the check)
            run.problem(table, f"#{getattr(row, 'id', '?')}", N_("malformed row, not checked (%(error)s)"),
                        error=f"{type(exc).__name__}: {exc}")


def check_creating_events(run: VerificationRun) -> None:
    """Every document, version, case, delegation, signature and user row has its creating audit event."""
    events = _events(run)

    def simple(table: str, action: str, object_type: str, column: Any, label: Any) -> None:
        def check(row: Any) -> None:
            if (action, object_type, str(row.id)) not in events.created:
                run.problem(table, label(row), _MISSING, action=action)
        _each(run, table, run.connection.execute(select(column.table)), check)

    simple("documents", "document.created", "document", m.Document.id, lambda row: str(row.number))
    simple("cases", "case.created", "case", Case.id, lambda row: f"#{row.id}")
    simple("delegations", "delegation.created", "delegation", Delegation.id, lambda row: f"#{row.id}")
    simple("users", "user.created", "user", User.id, lambda row: str(row.username))

    def version(row: Any) -> None:
        if (str(row.document_id), row.version) not in events.versions:
            run.problem("document_versions", f"{row.number} v{row.version}", _MISSING,
                        action="document.created / document.revised")
    _each(run, "document_versions", run.connection.execute(
        select(m.DocumentVersion.id, m.DocumentVersion.document_id, m.DocumentVersion.version, m.Document.number)
        .join(m.Document, m.DocumentVersion.document_id == m.Document.id)), version)

    def signature(row: Any) -> None:
        if row.signature_id not in events.signatures:
            run.problem("signatures", str(row.signature_id), _MISSING, action=" / ".join(SIGNED_ACTIONS))
    _each(run, "signatures", run.connection.execute(select(Signature.id, Signature.signature_id)), signature)


def check_submitted_hashes(run: VerificationRun) -> None:
    """Each frozen version's content hash is the one its submission event recorded, and each attachment's
    hash one recorded when a file was uploaded to that document."""
    events = _events(run)

    def frozen(row: Any) -> None:
        recorded = events.submitted.get((str(row.document_id), row.version), [])
        if row.content_sha256 not in recorded:
            run.problem("document_versions", f"{row.number} v{row.version}",
                        N_("content hash %(stored)s is not the one recorded at submission (%(recorded)s): the content "
                           "and its hash were rewritten together"),
                        stored=row.content_sha256, recorded=", ".join(map(str, recorded)) or "none")
    _each(run, "document_versions", run.connection.execute(
        select(m.DocumentVersion.id, m.DocumentVersion.document_id, m.DocumentVersion.version,
               m.DocumentVersion.content_sha256, m.Document.number)
        .join(m.Document, m.DocumentVersion.document_id == m.Document.id)
        .where(m.DocumentVersion.frozen_at.is_not(None))), frozen)

    def attachment(row: Any) -> None:
        if row.sha256 not in events.uploaded.get(str(row.document_id), set()):
            run.problem("attachments", f"{row.number} v{row.version} {row.display_name}",
                        N_("the file's hash %(sha256)s was never recorded at an upload to this document: the file was "
                           "replaced"), sha256=row.sha256)
    _each(run, "attachments", run.connection.execute(
        select(m.Attachment.id, m.Attachment.sha256, m.Attachment.display_name, m.DocumentVersion.document_id,
               m.DocumentVersion.version, m.Document.number)
        .join(m.DocumentVersion, m.Attachment.version_id == m.DocumentVersion.id)
        .join(m.Document, m.DocumentVersion.document_id == m.Document.id)), attachment)
