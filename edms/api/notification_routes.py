"""The caller's own notifications over the API: the same list as the My notifications page."""
from __future__ import annotations

from flask import g, jsonify

from edms.api import schemas as S
from edms.api.blueprint import bp, token_required
from edms.api.openapi import listing, operation
from edms.notifications.models import Notification
from edms.notifications.outbox import NEWEST_FIRST, notifications_of
from edms.timeutil import isoformat_utc
from edms.web.paging import page_of
from edms.web.runtime import db
from edms.workflow.visibility import can_see_case


def notification_json(notification: Notification) -> dict:
    return {
        "id": notification.id, "kind": notification.kind, "subject": notification.subject, "body": notification.body,
        "document_id": notification.document_id, "case_id": notification.case_id,
        "created_at": isoformat_utc(notification.created_at), "status": notification.status,
        "sent_at": isoformat_utc(notification.sent_at) if notification.sent_at else None,
    }


@bp.get("/notifications")
@operation(
    "The caller's own notifications, newest first, with their delivery status; keyset-paginated (`next`, `cursor`) "
    "(recorded: no e-mail configured or no address; pending; sent; failed)",
    schemas=listing(S.NOTIFICATION, "next"),
    responses={"200": "OK", "401": "No valid token"},
)
@token_required()
def list_notifications():
    page = page_of(notifications_of(g.api_user.id), NEWEST_FIRST)
    return jsonify({"items": [notification_json(n) for n in page.items if can_see_case(db(), g.api_user, n.case_id)],
                    "next": page.next})

