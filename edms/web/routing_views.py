"""Routing never dead-ends silently, on the pages: the administrators' list of stuck records, and what the
document page and the owner's inbox show of a version nobody active and ready now could complete."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_babel import get_locale
from flask_login import current_user

from edms.application.routing_health import StuckRecord, completability, stuck_page, stuck_records
from edms.application.tasks import INBOX_CASES
from edms.documents import models as dm
from edms.paging import BadCursor
from edms.timeutil import utc_now
from edms.users.roles import ADMIN
from edms.web.guards import roles_required
from edms.web.paging import next_page_args, page_size
from edms.web.runtime import db, services
from edms.workflow.completability import BlockedStep

bp = Blueprint("routing", __name__, url_prefix="/admin/stuck-records")


@bp.get("/")
@roles_required(ADMIN)
def stuck():
    size = page_size()
    try:
        page = stuck_page(services(), db(), now=utc_now(), cursor=request.args.get("cursor") or None, limit=size)
    except BadCursor as exc:
        abort(400, f"'cursor': {exc}; start again from the first page.")
    return render_template("routing/stuck.html", records=page.items, types=services().document_types,
                           language=str(get_locale() or "en"), next_page=next_page_args(page))


def blocked_version(document: dm.Document) -> BlockedStep | None:
    """The blocked step of the document's version in review (None: completable, or nothing to sign)."""
    result = completability(services(), db(), document, now=utc_now())
    return result.blocked if result is not None else None


def my_stuck_records() -> list[StuckRecord]:
    """The signed-in person's own records that nobody active and ready now could complete (among their oldest
    versions in review, as many as the inbox reads)."""
    if not current_user.is_authenticated:
        return []
    return stuck_records(services(), db(), now=utc_now(), owner_id=current_user.user.id, examine=INBOX_CASES)


@bp.app_context_processor
def routing_helpers():
    return {"blocked_version": blocked_version, "my_stuck_records": my_stuck_records}
