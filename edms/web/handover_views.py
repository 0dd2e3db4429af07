"""Handing work over when a person is absent or leaves (administrators): what a person still holds open,
listed before deactivation with a way to reassign each item; the transfer of a document's ownership to
another writer of its type; the change of a case's treating physician; the reactivation of an account.
Thin: every rule is in edms.application (drafting, cases, delegations, accounts, assignments)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from edms.application import accounts, assignments, cases, delegations, drafting
from edms.cases import models as cm
from edms.cases.errors import CaseError
from edms.documents import models as dm
from edms.documents.errors import DocumentError
from edms.errors import UserError
from edms.users.errors import AccountError
from edms.users.models import User
from edms.users.roles import ADMIN
from edms.web.bounds import db_int
from edms.web.forms import ReactivateForm, ReasonForm
from edms.web.guards import roles_required
from edms.web.i18n import translate_error
from edms.web.runtime import audit_context, db, services
from edms.workflow.delegations import DelegationError
from edms.workflow.models import Delegation

bp = Blueprint("handover", __name__, url_prefix="/admin")


def _get_or_404(model, row_id: int):
    row = db().get(model, row_id)
    if row is None:
        abort(404)
    return row


def _back(default: str) -> str:
    """Back to the deactivation page the form was on, or to `default` (never another site)."""
    target = request.form.get("next", "")
    return target if target.startswith("/admin/users/") and "//" not in target else default


def _run(action, errors: tuple[type[UserError], ...], success: str) -> bool:
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        action()
    except errors as exc:
        flash(translate_error(exc), "error")
        return False
    flash(success, "success")
    return True


@bp.get("/users/<int:user_id>/deactivate")
@roles_required(ADMIN)
def deactivation(user_id: int):
    """Before deactivating: everything the person still holds, each with its reassignment."""
    user = _get_or_404(User, user_id)
    found = assignments.open_assignments(services(), db(), user)
    owners = {document.id: assignments.owners_instead_of(services(), db(), document) for document in found.documents}
    names = {row.id: (db().get(User, row.delegator_id), db().get(User, row.delegate_id)) for row in found.delegations}
    return render_template("admin/deactivate.html", user=user, found=found, owners=owners, names=names,
                           physicians=assignments.physicians_instead_of(db(), user), form=FlaskForm(),
                           reason_form=ReasonForm(), types=services().document_types)


@bp.route("/documents/<int:document_id>/owner", methods=["GET", "POST"])
@roles_required(ADMIN)
def transfer_owner(document_id: int):
    """An administrator hands a document to another active writer of its type (PIC/S PI 041 §9.5)."""
    document = _get_or_404(dm.Document, document_id)
    if request.method == "POST":
        new_owner = db().get(User, request.form.get("new_owner_id", type=db_int) or 0)
        if new_owner is None:
            flash(_("Choose the new owner."), "error")
        elif _run(lambda: drafting.transfer_ownership(services(), db(), audit_context(), current_user.user, document,
                                                      new_owner, request.form.get("reason", "")),
                  (DocumentError,), _("%(name)s now owns %(number)s.", name=new_owner.printed_name,
                                      number=document.number)):
            return redirect(_back(url_for("documents.detail", document_id=document.id)))
        if request.form.get("next"):
            return redirect(_back(url_for("documents.detail", document_id=document.id)))
    return render_template("admin/transfer_owner.html", document=document, owner=db().get(User, document.owner_id),
                           candidates=assignments.owners_instead_of(services(), db(), document), form=FlaskForm(),
                           doc_type=services().document_types[document.type_key])


@bp.route("/cases/<int:case_id>/physician", methods=["GET", "POST"])
@roles_required(ADMIN)
def change_physician(case_id: int):
    """An administrator names another treating physician for a case, with a reason."""
    case = _get_or_404(cm.Case, case_id)
    current = db().get(User, case.physician_id) if case.physician_id else None
    if request.method == "POST":
        physician = db().get(User, request.form.get("physician_id", type=db_int) or 0)
        if physician is None:
            flash(_("Choose the new treating physician."), "error")
        elif _run(lambda: cases.change_physician(services(), db(), audit_context(), current_user.user, case,
                                                 physician, request.form.get("reason", "")),
                  (CaseError,), _("%(name)s is now the treating physician of %(case)s.", name=physician.printed_name,
                                  case=case.reference)):
            return redirect(_back(url_for("cases.detail", case_id=case.id)))
        if request.form.get("next"):
            return redirect(_back(url_for("cases.detail", case_id=case.id)))
    candidates = assignments.physicians_instead_of(db(), current) if current else \
        assignments.physicians_instead_of(db(), current_user.user)
    return render_template("admin/change_physician.html", case=case, current=current, candidates=candidates,
                           form=FlaskForm())


@bp.post("/delegations/<int:delegation_id>/end")
@roles_required(ADMIN)
def end_delegation(delegation_id: int):
    row = _get_or_404(Delegation, delegation_id)
    _run(lambda: delegations.revoke(services(), db(), audit_context(), current_user.user, row,
                                    request.form.get("reason", "")), (DelegationError,), _("The delegation has ended."))
    return redirect(_back(url_for("delegations.index")))


@bp.post("/users/<int:user_id>/reactivate")
@roles_required(ADMIN)
def reactivate(user_id: int):
    """A deactivated account returns with a temporary password; signing waits for a second administrator's
    identity check, after which a new key and certificate are issued at the first signature."""
    user = _get_or_404(User, user_id)
    form = ReactivateForm()
    if not form.validate_on_submit():
        flash(_("Give a temporary password, a reason and your password."), "error")
    else:
        try:
            accounts.reactivate(services(), db(), audit_context(), user, form.password.data or "", form.reason.data or "",
                                actor=current_user.user, actor_password=form.your_password.data)
        except AccountError as exc:
            flash(translate_error(exc), "error")
        else:
            flash(_("The account is active again. The person must change the temporary password, and may sign only "
                    "after a second administrator has verified their identity."), "success")
    return redirect(url_for("admin.user_detail", user_id=user_id))
