"""Every page and API route that names a case, a record or a signature in its path answers 404 to someone
who may not see that case (edms.workflow.visibility, the one rule): checked here once, for the pages before
the view runs and for the API once the token has named the caller, so no view can forget it."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from flask import abort, g, request
from flask_login import current_user
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from edms.cases.models import Case
from edms.cases.zones import case_zone
from edms.documents import models as dm
from edms.signatures.models import Signature
from edms.sites.models import Site
from edms.users.models import User
from edms.web.runtime import db
from edms.workflow.visibility import can_see_case, sees_every_case


def case_named_by(session: Session, view_args: Mapping[str, Any]) -> tuple[bool, int | None]:
    """(whether the path names something of a case, that case's id or None)."""
    if "case_id" in view_args:
        return True, view_args["case_id"]
    if "document_id" in view_args:
        return True, session.scalar(select(dm.Document.case_id).where(dm.Document.id == view_args["document_id"]))
    if "signature_id" in view_args:
        document_id = session.scalar(select(Signature.document_id).where(
            Signature.signature_id == str(view_args["signature_id"])))
        if document_id is None:
            return False, None
        return True, session.scalar(select(dm.Document.case_id).where(dm.Document.id == document_id))
    return False, None


def out_of_scope(session: Session, user: User, view_args: Mapping[str, Any] | None) -> bool:
    """Whether the path names a case (or a record or signature of one) that `user` may not see."""
    if not view_args or sees_every_case(user):
        return False
    names, case_id = case_named_by(session, view_args)
    return names and case_id is not None and not can_see_case(session, user, case_id)


def enforce_case_scope() -> None:
    """Before every page: a case out of the person's scope does not exist for them. The page of a case or
    of one of its records shows its times in the zone of the case's site (edms.web.i18n.local_time)."""
    if request.blueprint == "api" or not current_user.is_authenticated or not request.view_args:
        return None  # the API checks once the bearer token has named the caller (edms.api.blueprint)
    session = db()
    zone: Any
    read = _PAGE_STATES.get(request.endpoint or "")
    if read is not None:
        names, (case_id, zone, g.edms_page_state) = True, read(session, request.view_args)
    elif "document_id" in request.view_args and "case_id" not in request.view_args:
        names, (case_id, zone) = True, _document_case_and_zone(session, request.view_args["document_id"])
    else:
        names, case_id = case_named_by(session, request.view_args)
        zone = None if case_id is None else _NOT_READ
    if not names or case_id is None:
        return None
    # The reader's roles come from their row (edms.web.session_user): the account model is loaded only when
    # the rule must look at their cases.
    if not sees_every_case(current_user) and not can_see_case(session, current_user.user, case_id):
        abort(404)
    g.record_zone = case_zone(session, case_id) if zone is _NOT_READ else zone
    return None


_NOT_READ = object()
T = TypeVar("T")
# (the case the path names or None, the zone of its site, the page's state), read in one go for the scope
PageStateRead = Callable[[Session, Mapping[str, Any]], tuple[int | None, str | None, object]]
_PAGE_STATES: dict[str, PageStateRead] = {}


def reads_its_state(endpoint: str, read: PageStateRead) -> None:
    """A page that reads its whole state anyway (the case's, a record's) and finds its case and the case's zone in
    it: the scope takes them from that read instead of a statement of its own, and leaves the state for the view
    (`page_state`), read in the request's transaction before the view runs, as the view would have read it."""
    _PAGE_STATES[endpoint] = read


def page_state(read: Callable[[], T]) -> T:
    """The page's state as the scope read it for this request (`reads_its_state`), else `read()`."""
    found = g.pop("edms_page_state", _NOT_READ)
    return read() if found is _NOT_READ else cast(T, found)
_documents, _cases, _sites = dm.Document.__table__, Case.__table__, Site.__table__
# A record's case and the zone of that case's site, in one statement built once.
_DOCUMENT_CASE_ZONE = (
    select(_documents.c.case_id, _sites.c.timezone)
    .select_from(_documents.outerjoin(_cases, _cases.c.id == _documents.c.case_id)
                 .outerjoin(_sites, _sites.c.id == _cases.c.site_id))
    .where(_documents.c.id == bindparam("document_id"))
)


def _document_case_and_zone(session: Session, document_id: int) -> tuple[int | None, Any]:
    row = session.connection().execute(_DOCUMENT_CASE_ZONE, {"document_id": document_id}).first()
    return (None, None) if row is None else (row.case_id, row.timezone)
