"""The outbox: enqueue notifications with the change that causes them; deliver them later by e-mail.

Services call `enqueue` (or `notify_users_with_roles`) inside their own transaction, so a notification
exists exactly when the change it announces was committed. Delivery is separate (`edms outbox deliver`,
the administrators' Outbox page) and keeps no transaction open while it talks to the SMTP relay.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from edms.audit import AuditContext, record
from edms.config import SmtpSettings
from edms.db import transaction
from edms.definitions import LocalizedText
from edms.notifications.models import FAILED, KIND_LABELS, PENDING, RECORDED, SENT, SUBJECT_MAX, Notification
from edms.notifications.smtp import ConnectionFailed, SmtpConnection, describe_error
from edms.timeutil import utc_now
from edms.users.models import User, UserRole

DELIVERY_BATCH = 100
# A message in both languages, written for each recipient in theirs; or one text for everyone.
Wording = str | LocalizedText


def enqueue(session: Session, ctx: AuditContext, recipients: Iterable[User], *, subject: Wording, body: Wording,
            kind: str, smtp: SmtpSettings, document_id: int | None = None, case_id: int | None = None
            ) -> list[Notification]:
    """One notification per active recipient (duplicates and deactivated or expired accounts skipped).

    `subject` and `body` given in both languages (`edms.wording.both`) are written in each recipient's own
    language (their setting); a plain string is sent as it is.

    Each row is "pending" when `smtp` is configured and the person has an e-mail address, "recorded"
    otherwise; each is audited as `notification.queued`. Nothing is committed: the caller's
    transaction carries the notifications together with the change they announce.
    """
    if kind not in KIND_LABELS:
        raise ValueError(f"unknown notification kind {kind!r}: add it to KIND_LABELS in edms/notifications/models.py")
    if not _one_line(str(subject)):
        raise ValueError("a notification needs a subject")
    now = utc_now()
    created, seen = [], set()
    for person in recipients:
        if person.id in seen or not _reachable(person, now):
            continue
        seen.add(person.id)
        address = person.email.strip() or None
        written = _one_line(_in_language(subject, person.language))
        notification = Notification(
            recipient_id=person.id, recipient_email=address, subject=written, body=_in_language(body, person.language),
            kind=kind,
            document_id=document_id, case_id=case_id, created_at=now, attempts=0,
            status=PENDING if smtp.configured and address else RECORDED,
        )
        session.add(notification)
        session.flush()
        record(session, ctx, "notification.queued", "notification", notification.id, case_id=case_id, changes={
            "recipient": {"old": None, "new": person.username},
            "kind": {"old": None, "new": kind},
            "subject": {"old": None, "new": written},
            "status": {"old": None, "new": notification.status},
            "document_id": {"old": None, "new": document_id},
        })
        created.append(notification)
    return created


def _in_language(text: Wording, language: str) -> str:
    return text.text(language) if isinstance(text, LocalizedText) else text


def notify_users_with_roles(session: Session, ctx: AuditContext, roles: Iterable[str], *, subject: Wording, body: Wording,
                            kind: str, smtp: SmtpSettings, document_id: int | None = None,
                            case_id: int | None = None, exclude_ids: Iterable[int] = ()) -> list[Notification]:
    """`enqueue` to every active person holding any of `roles`, except the accounts in `exclude_ids`."""
    excluded = set(exclude_ids)
    holders = session.scalars(
        select(User).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role.in_(list(roles)), User.active.is_(True))
        .distinct().order_by(User.username)
    ).all()
    return enqueue(session, ctx, [person for person in holders if person.id not in excluded], subject=subject,
                   body=body, kind=kind, smtp=smtp, document_id=document_id, case_id=case_id)


@dataclass(frozen=True)
class DeliveryReport:
    configured: bool  # False: no SMTP relay, nothing was tried
    sent: int = 0
    failed: int = 0
    waiting: int = 0  # still to be sent after this run (beyond the batch, or failed and to be retried)


@dataclass(frozen=True)
class _Outgoing:
    id: int
    to: str
    subject: str
    body: str


def deliver_pending(sessions: sessionmaker[Session], ctx: AuditContext, smtp: SmtpSettings, now: datetime, *,
                    limit: int = DELIVERY_BATCH, installation: str = "edms") -> DeliveryReport:
    """Send up to `limit` waiting notifications (pending, or failed with attempts left), oldest first.

    Takes a session factory, not a session: the batch is read in one short transaction, each message
    is sent with no transaction open (a slow relay never holds the database's locks), and each outcome
    is committed with its audit event (`notification.sent` or `notification.failed`) right after its
    message, so a crash resends at most one message. An unreachable relay fails the rest of the batch
    with its error; later runs try them again until `smtp.max_attempts`.
    """
    if not smtp.configured:
        return DeliveryReport(configured=False, waiting=_count_waiting(sessions, smtp))
    with transaction(sessions) as session:
        batch = [_Outgoing(n.id, formataddr((n.recipient.printed_name, n.recipient_email or "")), n.subject, n.body)
                 for n in session.scalars(_waiting(smtp).order_by(Notification.id).limit(limit))]
    sent = failed = 0
    with SmtpConnection(smtp) as connection:  # at least once: a crash before _settle sends the message again
        for position, item in enumerate(batch):
            try:
                connection.send(_message(smtp, item, now, installation))
            except ConnectionFailed as exc:
                for rest in batch[position:]:
                    _settle(sessions, ctx, rest.id, now, str(exc))
                failed += len(batch) - position
                break
            except Exception as exc:  # noqa: BLE001  (smtplib, socket and header errors: recorded, never raised)
                _settle(sessions, ctx, item.id, now, describe_error(exc))
                failed += 1
            else:
                _settle(sessions, ctx, item.id, now, None)
                sent += 1
    return DeliveryReport(configured=True, sent=sent, failed=failed, waiting=_count_waiting(sessions, smtp))


# The order every notification list is read in, newest first: the keys of its keyset pages (edms.paging).
NEWEST_FIRST = (Notification.created_at, Notification.id)


def notifications_of(user_id: int) -> Select[Any]:
    """A person's own notifications, to be read newest first by NEWEST_FIRST a page at a time."""
    return select(Notification).where(Notification.recipient_id == user_id)


def notifications_for(session: Session, user_id: int, *, limit: int = 200) -> list[Notification]:
    """A person's own notifications, newest first."""
    return list(session.scalars(
        notifications_of(user_id).order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    ))


def outbox(session: Session, *, status: str | None = None, limit: int = 500) -> list[Notification]:
    """Every notification (or those of one status), newest first."""
    query = select(Notification).order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Notification.status == status)
    return list(session.scalars(query))


def status_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Notification.status, func.count()).group_by(Notification.status))
    return {status: count for status, count in rows}


def _one_line(text: str) -> str:
    # A subject is one header line: line breaks would be refused by the e-mail library (or inject headers).
    flat = " ".join(text.split())
    return flat if len(flat) <= SUBJECT_MAX else flat[:SUBJECT_MAX - 1] + "…"


def _reachable(person: User, now: datetime) -> bool:
    return person.active and (person.access_expires_at is None or person.access_expires_at > now)


def _waiting(smtp: SmtpSettings):
    return select(Notification).where(or_(
        Notification.status == PENDING,
        (Notification.status == FAILED) & (Notification.attempts < smtp.max_attempts),
    ))


def _count_waiting(sessions: sessionmaker[Session], smtp: SmtpSettings) -> int:
    with transaction(sessions) as session:
        return session.scalar(select(func.count()).select_from(_waiting(smtp).subquery())) or 0


def message_id(notification_id: int, installation: str, sender: str) -> str:
    """The same for every attempt at one notification (a retried message is one message to its reader), and
    different between installations: derived from the notification's id and the installation's value."""
    domain = sender.rpartition("@")[2] or "localhost"
    return f"<notification-{notification_id}.{installation}@{domain}>"


def _message(smtp: SmtpSettings, item: _Outgoing, now: datetime, installation: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = item.to
    message["Subject"] = item.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(item.id, installation, smtp.sender)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to the relay's sender
    message.set_content(item.body)
    return message


def _settle(sessions: sessionmaker[Session], ctx: AuditContext, notification_id: int, now: datetime,
            error: str | None) -> None:
    """Record one attempt's outcome with its audit event, in a transaction of its own."""
    with transaction(sessions) as session:
        notification = session.get(Notification, notification_id, with_for_update=True)
        if notification is None or notification.status not in (PENDING, FAILED):
            return  # another delivery settled it meanwhile
        before = {"status": notification.status, "attempts": notification.attempts,
                  "last_error": notification.last_error}
        notification.attempts += 1
        if error is None:
            notification.status, notification.sent_at = SENT, now
        else:
            notification.status, notification.last_error = FAILED, error
        after = {"status": notification.status, "attempts": notification.attempts,
                 "last_error": notification.last_error}
        record(session, ctx, f"notification.{notification.status}", "notification", notification.id,
               case_id=notification.case_id,
               changes={name: {"old": before[name], "new": after[name]} for name in before if before[name] != after[name]})
