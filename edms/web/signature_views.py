"""Signature pages: the signing ceremony, refusals, what each signature shows, and the signing rights
(identity verification, policy acknowledgement, training, second factor). Thin: every rule is in
edms.signatures."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, DateField, HiddenField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from edms.application import signing, signing_rights
from edms.application.reauthentication import ReauthenticationRefused
from edms.crypto.cms import signature_value
from edms.documents import models as dm
from edms.documents.queries import values_of
from edms.documents.types import NAMED_SIGNERS, SIGNATURE_MEANINGS, SIGNING_ROLES
from edms.errors import UserError
from edms.signatures import gates, keys, planning, presentation, totp
from edms.signatures.ceremony import Credentials, SigningEnvironment, session_ref_for
from edms.signatures.errors import GateRecordRefused, SigningFailed
from edms.signatures.manifest import MAX_COMMENT
from edms.signatures.models import Signature, SigningCredential, TrainingRecord
from edms.signatures.totp_secrets import sealing_key, secret_of
from edms.timeutil import utc_now
from edms.users.models import User, UserRole
from edms.users.roles import ADMIN, CONTENT_ROLES, QA
from edms.web.guards import roles_required
from edms.web.i18n import translate_error
from edms.web.runtime import audit_context, db, services, settings
from edms.workflow import routing
from edms.workflow.refusals import SigningRefused

bp = Blueprint("signatures", __name__)


class CeremonyForm(FlaskForm):
    step = HiddenField()
    username = StringField(_l("User name"), validators=[Optional(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    totp_code = StringField(_l("One-time code from your authenticator app"), validators=[Optional(), Length(max=12)])


class SignForm(CeremonyForm):
    comment = TextAreaField(_l("Comment (optional, part of the signed record)"),
                            validators=[Optional(), Length(max=MAX_COMMENT)])


class RejectForm(CeremonyForm):
    reason = TextAreaField(_l("Reason for refusing to sign (part of the signed record)"),
                           validators=[DataRequired(), Length(max=MAX_COMMENT)])


class AcknowledgeForm(FlaskForm):
    confirm = BooleanField(_l("I have read this policy. I accept that my electronic signature is the legally "
                              "binding equivalent of my handwritten signature."), validators=[DataRequired()])


class IdentityForm(FlaskForm):
    method = StringField(_l("How the identity was verified"), validators=[DataRequired(), Length(max=200)])
    evidence = TextAreaField(_l("Evidence (document type and number, record reference)"),
                             validators=[DataRequired(), Length(max=2000)])


class TrainingForm(FlaskForm):
    role = SelectField(_l("Role"))
    document_type = SelectField(_l("Document type"))
    course = StringField(_l("Course or SOP (with its version)"), validators=[DataRequired(), Length(max=200)])
    trained_on = DateField(_l("Trained on"), validators=[DataRequired()])
    valid_until = DateField(_l("Valid until"), validators=[DataRequired()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        language = _language()
        self.role.choices = [(key, label.text(language)) for key, label in SIGNING_ROLES.items()]
        self.document_type.choices = [("", _("All document types"))] + [
            (key, doc_type.name.text(language)) for key, doc_type in services().document_types.items()]


class TotpConfirmForm(FlaskForm):
    code = StringField(_l("Code shown by the app"), validators=[DataRequired(), Length(max=12)])
    # A new second factor changes how the person signs: confirmed with the password, like a signature.
    password = PasswordField(_l("Your password, to confirm"), validators=[DataRequired(), Length(max=1024)])


def _language() -> str:
    return str(get_locale() or "en")


def _environment() -> SigningEnvironment:
    return services().signing_environment()


def _session_ref() -> str | None:
    sid = session.get("sid")
    return session_ref_for(sid) if sid else None


def trust(revoked: Sequence[tuple[int, datetime]] | None = None):
    """What verification trusts, once per request (a page shows several panels of signatures). `revoked`: the
    revocation records a page read with its own state in this request's transaction (edms.signatures.record_state),
    so they are not read again."""
    if "edms_trust" not in g:
        g.edms_trust = services().trust(db(), revoked)
    return g.edms_trust


def _version_or_404(document_id: int, number: int) -> tuple[dm.Document, dm.DocumentVersion]:
    document = db().get(dm.Document, document_id)
    version = document.version(number) if document is not None else None
    if document is None or version is None:
        abort(404)
    return document, version


def signing_plan(document: dm.Document, version: dm.DocumentVersion) -> planning.SigningPlan:
    """Whether the signed-in person may sign `version` now, or why not: per request (their gates, the clock)."""
    return planning.plan(db(), _environment(), services().document_types[document.type_key], current_user.user,
                         document, version, session_ref=_session_ref())


@bp.app_context_processor
def signature_helpers():
    def signature_record(document: dm.Document, version: dm.DocumentVersion):
        """What the version's signatures show whoever reads them: each manifestation with its verdict, and the
        progress of the signing steps (documents/_record.html)."""
        doc_type = services().document_types[document.type_key]
        items = presentation.manifestations(db(), version, trust(), doc_type)
        states = routing.progress(doc_type.steps, planning.signed_steps(db(), version))
        return {"items": items, "states": states}

    def signature_summary(document: dm.Document, version: dm.DocumentVersion) -> list[presentation.Manifestation]:
        """The manifestations of one version, for the version history."""
        return presentation.manifestations(db(), version, trust(), services().document_types[document.type_key])

    return {"signature_record": signature_record, "signature_summary": signature_summary,
            "translate_error": translate_error, "meanings": SIGNATURE_MEANINGS, "signing_roles": SIGNING_ROLES,
            "named_signers": NAMED_SIGNERS,
            "localized": lambda text, fallback="": text.text(_language()) if text is not None else fallback}


def _ceremony(document_id: int, number: int, kind: str):
    document, version = _version_or_404(document_id, number)
    doc_type = services().document_types[document.type_key]
    form = RejectForm() if kind == "reject" else SignForm()
    env = _environment()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            user = current_user.user
            credentials = Credentials(password=form.password.data or "", username=form.username.data or None,
                                          totp_code=form.totp_code.data or None, session_ref=_session_ref())
            try:
                if kind == "reject":
                    made = signing.refuse(services(), db(), audit_context(), user, document, version, credentials,
                                          reason=form.reason.data or "", step=form.step.data or None)
                else:
                    made = signing.sign(services(), db(), audit_context(), user, document, version, credentials,
                                        step=form.step.data or None, comment=form.comment.data)
            except (SigningRefused, SigningFailed) as exc:
                flash(translate_error(exc), "error")
                status = exc.http_status
            else:
                if kind == "reject":
                    flash(_("You refused to sign. The refusal is signed and the version is rejected."), "success")
                else:
                    flash(_("Signed. Your signature is shown below with its verification."), "success")
                return redirect(url_for("documents.version", document_id=document.id, number=version.version)
                                + f"#signature-{made.signature_id}")
        else:
            flash(_("Fill in the required fields: nothing was signed."), "error")
            status = 400
    # A task link names the step (parallel steps may be open at once); the form keeps it on a retry.
    plan = planning.plan(db(), env, doc_type, current_user.user, document, version, session_ref=_session_ref(),
                    step=form.step.data or request.args.get("step") or None)
    if plan.due is not None and not form.step.data:
        form.step.data = plan.due.step.name
    return render_template(
        "signatures/ceremony.html", document=document, version=version, doc_type=doc_type, plan=plan, form=form,
        kind=kind, values=values_of(version), language=_language(),
    ), status


@bp.route("/documents/<int:document_id>/versions/<int:number>/sign", methods=["GET", "POST"])
@roles_required(*CONTENT_ROLES)
def sign(document_id: int, number: int):
    return _ceremony(document_id, number, "sign")


@bp.route("/documents/<int:document_id>/versions/<int:number>/reject", methods=["GET", "POST"])
@roles_required(*CONTENT_ROLES)
def reject(document_id: int, number: int):
    return _ceremony(document_id, number, "reject")


def _signature_or_404(signature_id: UUID) -> Signature:
    signature = db().scalar(select(Signature).where(Signature.signature_id == str(signature_id)))
    if signature is None:
        abort(404)
    return signature


@bp.get("/signatures/<uuid:signature_id>")
@login_required
def detail(signature_id: UUID):
    signature = _signature_or_404(signature_id)
    version = db().get(dm.DocumentVersion, signature.version_id)
    document = db().get(dm.Document, signature.document_id)
    doc_type = services().document_types.get(document.type_key) if document else None
    item = presentation.manifestation(db(), signature, trust(), doc_type)
    credential = db().get(SigningCredential, signature.credential_id)
    return render_template("signatures/detail.html", signature=signature, item=item, document=document,
                           version=version, credential=credential, manifest_text=signature.manifest.decode("utf-8"),
                           language=_language())


ARTEFACTS = {
    "manifest.json": ("manifest", "application/json"),
    "signature.p7s": ("cms", "application/pkcs7-signature"),
    "timestamp.tsr": ("timestamp_response", "application/timestamp-reply"),
}


ARTEFACT_NAMES = "any('manifest.json', 'signature.p7s', 'timestamp.tsr', 'signature-value.bin', 'chain.pem')"


@bp.get(f"/signatures/<uuid:signature_id>/<{ARTEFACT_NAMES}:name>")
@login_required
def artefact(signature_id: UUID, name: str):
    """The stored bytes themselves, so anyone can check them with openssl (docs on the detail page)."""
    signature = _signature_or_404(signature_id)
    if name == "chain.pem":
        credential = db().get_one(SigningCredential, signature.credential_id)
        data, mimetype = presentation.chain_pem(credential, settings()), "application/x-pem-file"
    elif name == "signature-value.bin":
        data, mimetype = signature_value(signature.cms), "application/octet-stream"
    else:
        column, mimetype = ARTEFACTS[name]
        data = getattr(signature, column)
    return Response(data, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{signature.signature_id}-{name}"'})


# --- signing rights ------------------------------------------------------------------------------------


@bp.route("/signatures/policy", methods=["GET", "POST"])
@login_required
def policy():
    form = AcknowledgeForm()
    text = gates.load_policy()
    if form.validate_on_submit():
        signing_rights.acknowledge_policy(services(), db(), audit_context(), current_user.user, text)
        flash(_("Thank you: your acknowledgement of the electronic signature policy is recorded."), "success")
        return redirect(url_for("signatures.readiness"))
    acknowledged = gates.policy_acknowledged(db(), current_user.user, text)
    return render_template("signatures/policy.html", form=form, policy=text, acknowledged=acknowledged)


@bp.get("/signatures/readiness")
@login_required
def readiness():
    return render_template("signatures/readiness.html", **_rights(current_user.user), own=True)


@bp.route("/signatures/totp", methods=["GET", "POST"])
@login_required
def totp_enrolment():
    form = TotpConfirmForm()
    database = db()
    user = current_user.user
    if request.method == "POST" and request.form.get("action") == "start":
        if FlaskForm().validate_on_submit():
            signing_rights.start_totp_enrolment(services(), database, audit_context(), user)
        return redirect(url_for("signatures.totp_enrolment"))
    if form.validate_on_submit():
        try:
            signing_rights.confirm_totp(services(), database, audit_context(), user, form.code.data,
                                        password=form.password.data)
        except (GateRecordRefused, ReauthenticationRefused) as exc:
            flash(translate_error(exc), "error")  # the failed confirmation stays audited
        else:
            flash(_("Your authenticator app is enrolled: signatures will ask for its code."), "success")
            return redirect(url_for("signatures.readiness"))
    pending = gates.pending_totp(database, user)
    uri = secret = None
    if pending is not None:
        shared = secret_of(sealing_key(settings()), pending)
        secret = totp.to_base32(shared)
        uri = totp.provisioning_uri(shared, account=user.username, issuer=settings().organisation)
    return render_template("signatures/totp.html", form=form, start_form=FlaskForm(), pending=pending, uri=uri,
                           secret=secret,
                           active=gates.active_totp(database, user),
                           required=gates.totp_required(user, settings().totp_roles))


def _rights(user: User) -> dict:
    database = db()
    return {
        "person": user,
        "identity": gates.current_identity_checks(database, user),
        "acknowledged": gates.policy_acknowledged(database, user, gates.load_policy()),
        "trainings": database.scalars(select(TrainingRecord).where(TrainingRecord.user_id == user.id)
                                      .order_by(TrainingRecord.id)).all(),
        "credentials": database.scalars(select(SigningCredential).where(SigningCredential.user_id == user.id)
                                        .order_by(SigningCredential.id)).all(),
        "totp_active": gates.active_totp(database, user) is not None,
        "totp_required": gates.totp_required(user, settings().totp_roles),
        "names": {u.id: u.printed_name for u in database.scalars(select(User)).all()},
        "today": utc_now().date(),
        "document_types": services().document_types,
        "language": _language(),
    }


@bp.get("/signatures/people")
@roles_required(ADMIN, QA)
def people():
    users = db().scalars(
        select(User).join(UserRole).where(UserRole.role.in_(sorted(CONTENT_ROLES))).distinct().order_by(User.username)
    ).all()
    policy_text = gates.load_policy()
    rows = [{"user": u, "identity": gates.identity_verified(db(), u),
             "policy": gates.policy_acknowledged(db(), u, policy_text),
             "credential": keys.current_credential(db(), u)} for u in users]
    return render_template("signatures/people.html", rows=rows)


def _person_or_404(user_id: int) -> User:
    user = db().get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.get("/signatures/people/<int:user_id>")
@roles_required(ADMIN, QA)
def person(user_id: int):
    user = _person_or_404(user_id)
    return render_template("signatures/readiness.html", **_rights(user), own=False,
                           identity_form=IdentityForm(), training_form=TrainingForm())


def _record(user_id: int, form: FlaskForm, action, success: str):
    user = _person_or_404(user_id)
    if form.validate_on_submit():
        try:
            action(user, form)
        except UserError as exc:
            flash(translate_error(exc), "error")
        else:
            flash(success, "success")
    else:
        flash(_("Fill in every field: nothing was recorded."), "error")
    return redirect(url_for("signatures.person", user_id=user_id))


@bp.post("/signatures/people/<int:user_id>/identity")
@roles_required(ADMIN)
def record_identity(user_id: int):
    return _record(user_id, IdentityForm(), lambda u, f: signing_rights.record_identity(
        services(), db(), audit_context(), current_user.user, u, method=f.method.data, evidence=f.evidence.data),
        _("The identity verification is recorded."))


@bp.post("/signatures/people/<int:user_id>/training")
@roles_required(ADMIN, QA)
def record_training(user_id: int):
    return _record(user_id, TrainingForm(), lambda u, f: signing_rights.record_training(
        services(), db(), audit_context(), current_user.user, u, role=f.role.data,
        document_type=f.document_type.data or None, course=f.course.data, trained_on=f.trained_on.data,
        valid_until=f.valid_until.data), _("The training record is saved."))
