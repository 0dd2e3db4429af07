"""The signing ceremony and the signature (21 CFR 11.50, 11.70, 11.200(a)(1), 11.300; ER/ES; Annex 11 §14).

`sign()` and `reject()` take the acting user and their re-entered credentials explicitly; pages, API, demo and
tests reach them through edms.application.signing, which adds the notices. In order, under a lock on the
version row (so two people completing the last step at once produce one approval): the version must be the
latest and in review, the step the one due, the person allowed to sign it and ready (identity, policy,
training, second factor); then the credentials (user name and password at the first signing of a session, at
least the password after); then the person's key signs the canonical manifest, the organisation's TSA time-
stamps the signature, both are verified, and the row and its audit event are written in the caller's
transaction.

A refusal (`SigningRefused`) leaves only its audit event (and, for wrong credentials, the failure count
towards lockout): an audited refusal, which the unit of work keeps. `SigningFailed` (no PKI, no
time-stamp) is rolled back.
"""
from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from edms.audit import AuditContext, record
from edms.crypto.cms import sign_detached, signature_value, verify_detached
from edms.crypto.tsa import TimestampError, verify_timestamp
from edms.documents import models as dm
from edms.documents.operations import mark_approved, mark_rejected
from edms.documents.pdf_queries import frozen_pdf_sha256
from edms.documents.queries import version_hash
from edms.documents.types import DocumentType
from edms.errors import N_
from edms.plaintext import UnsafeText, check_text
from edms.signatures import totp
from edms.signatures.ceremony import Credentials, SigningEnvironment
from edms.signatures.errors import AccountLocked, CredentialsRefused, InvalidRequest, NotReady, SigningFailed
from edms.signatures.gates import active_totp, missing_gates, totp_required
from edms.signatures.keys import SigningAuthority, certificate_of, open_signing_key
from edms.signatures.manifest import MAX_COMMENT, REJECTION, SIGNATURE, Manifest
from edms.signatures.models import Signature
from edms.signatures.pdf_operations import sign_version_pdf
from edms.signatures.planning import check_may_sign, check_record_gates, signed_steps, username_required
from edms.signatures.totp_secrets import secret_of
from edms.timeutil import isoformat_utc, utc_now
from edms.users.authentication import Outcome, register_failure
from edms.users.models import User
from edms.users.passwords import verify_password
from edms.users.usernames import normalise_username
from edms.verifier import memo
from edms.workflow import routing
from edms.workflow.delegations import describe, find_active
from edms.workflow.refusals import AuthorityRefused, SigningRefused


def sign(session: Session, ctx: AuditContext, env: SigningEnvironment, doc_type: DocumentType, user: User,
         document: dm.Document, version: dm.DocumentVersion, credentials: Credentials, *,
         step: str | None = None, meaning: str | None = None, comment: str | None = None) -> Signature:
    """Sign the step due on `version` with its meaning; the last step makes the version approved."""
    return _sign(session, ctx, env, doc_type, user, document, version, credentials, kind=SIGNATURE,
                 step_name=step, meaning=meaning, comment=comment)


def reject(session: Session, ctx: AuditContext, env: SigningEnvironment, doc_type: DocumentType, user: User,
           document: dm.Document, version: dm.DocumentVersion, credentials: Credentials, *, reason: str,
           step: str | None = None) -> Signature:
    """A signed refusal of the step due, with a mandatory reason: the version becomes rejected."""
    return _sign(session, ctx, env, doc_type, user, document, version, credentials, kind=REJECTION,
                 step_name=step, meaning=None, comment=reason)


def _sign(session: Session, ctx: AuditContext, env: SigningEnvironment, doc_type: DocumentType, user: User,
          document: dm.Document, version: dm.DocumentVersion, credentials: Credentials, *, kind: str,
          step_name: str | None, meaning: str | None, comment: str | None) -> Signature:
    comment = (comment or "").strip() or None
    try:
        if kind == REJECTION and not comment:
            raise InvalidRequest(N_("A reason is required to refuse to sign."))
        if comment and len(comment) > MAX_COMMENT:
            raise InvalidRequest(N_("The comment is too long (%(n)s characters at most)."), n=MAX_COMMENT)
        try:
            check_text(comment or "", multi_line=True)  # printed under the signature in every rendition
        except UnsafeText as exc:
            raise InvalidRequest(exc.message, **exc.params) from None
        document, version = _lock(session, document, version)
        signed = signed_steps(session, version)
        target, grounds = check_may_sign(session, doc_type, user, document, version, signed, step_name=step_name,
                                 meaning=meaning)
        if kind != REJECTION:  # refusing to sign is always possible; signing waits for the prerequisites
            check_record_gates(session, env, document)
        missing = missing_gates(session, user, role=grounds.role, document_type=doc_type.key,
                                policy=env.policy, totp_roles=env.totp_roles)
        if missing:
            raise NotReady(N_("You cannot sign yet: %(items)s"), missing=missing,
                           items=" ".join(gate.text for gate in missing))
        _authenticate(session, ctx, env, user, credentials)
    except SigningRefused as refusal:
        reason = f"{refusal} ({refusal.detail})" if refusal.detail else str(refusal)
        record(session, ctx, "signature.refused", "document", document.id, document_version=version.version,
               case_id=document.case_id, reason=reason,
               changes={"attempt": {"old": None, "new": {"kind": kind, "step": step_name, "meaning": meaning}}})
        raise
    if version_hash(document, version) != version.content_sha256:
        raise SigningFailed(N_("The stored content of this version no longer matches its hash: it cannot be "
                               "signed. Report this to quality assurance."))
    authority = env.authority()
    credential, key = open_signing_key(session, ctx, authority, env.password_policy, user, credentials.password)
    signed_at = utc_now()
    manifest = Manifest(
        signature_id=str(uuid.uuid4()), kind=kind, document_id=document.id, document_number=document.number,
        version=version.version, content_sha256=version.content_sha256 or "", step=target.step.name,
        meaning=target.step.meaning, signer_user_id=user.id, signer_username=user.username,
        signer_printed_name=user.printed_name, signer_role=grounds.role, signed_at=signed_at, comment=comment,
        delegation=_delegation(session, user, grounds, signed_at),
        pdf_sha256=frozen_pdf_sha256(session, version) if env.blobs is not None else None,
    )
    data = manifest.to_bytes()
    cms = sign_detached(key, certificate_of(credential), data, [authority.ca_cert])
    response, stamped_at = _timestamp(authority, cms, data)
    if env.blobs is not None:  # the same key, opened by the same password entry, signs the version's PDF
        sign_version_pdf(session, ctx, env.blobs, doc_type, document, version, manifest, key=key,
                         cert=certificate_of(credential), authority=authority, timestamp_response=response)
    signature = Signature(
        signature_id=manifest.signature_id, kind=kind, document_id=document.id, version_id=version.id,
        version=version.version, step=manifest.step, meaning=manifest.meaning, signer_id=user.id,
        credential_id=credential.id, signed_at=manifest.signed_at, comment=comment, manifest=data, cms=cms,
        timestamp_response=response, timestamped_at=stamped_at, session_ref=credentials.session_ref,
    )
    session.add(signature)
    session.flush()
    record(session, ctx, "signature.signed" if kind == SIGNATURE else "signature.rejected", "document", document.id,
           document_version=version.version, case_id=document.case_id, reason=comment if kind == REJECTION else None,
           changes={"signature": {"old": None, "new": {
               "signature_id": manifest.signature_id, "kind": kind, "step": manifest.step, "meaning": manifest.meaning,
               "printed_name": manifest.signer_printed_name, "username": manifest.signer_username,
               "role": manifest.signer_role, "signed_at": isoformat_utc(manifest.signed_at),
               "timestamped_at": isoformat_utc(stamped_at), "content_sha256": manifest.content_sha256,
               "comment": comment, "certificate_serial": credential.serial_hex,
               "delegation": manifest.delegation}}})
    if kind == REJECTION:
        mark_rejected(session, ctx, document, version, comment or "")
    elif routing.is_complete(doc_type.steps, [*signed, routing.StepSignature(manifest.step, user.id)]):
        mark_approved(session, ctx, document, version)
    return signature


def _lock(session: Session, document: dm.Document, version: dm.DocumentVersion) -> tuple[dm.Document, dm.DocumentVersion]:
    """Lock the version row and re-read it and its document: whoever waited sees the winner's result. Their
    rows only, in two statements: their collections (versions, attachments) are reset to load again when next
    read, rather than re-read now whether or not the ceremony reads them."""
    query = select(dm.DocumentVersion).where(dm.DocumentVersion.id == version.id).options(lazyload("*"))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    # SQLite: the application's transactions begin IMMEDIATE, so writers are already serialised.
    locked = session.scalar(query.execution_options(populate_existing=True))
    fresh = session.scalar(select(dm.Document).where(dm.Document.id == document.id).options(lazyload("*"))
                           .execution_options(populate_existing=True))
    if fresh is None or locked is None:  # nothing controlled is deleted: only a broken database gets here
        raise SigningFailed(N_("The record to sign is missing from the database: nothing was signed."))
    return fresh, locked


def _delegation(session: Session, user: User, grounds: routing.Authority, at: datetime) -> dict | None:
    """The delegation a signature for an absent person is made under, as its manifest names it."""
    if grounds.on_behalf_of is None:
        return None
    row = find_active(session, user.id, grounds.on_behalf_of.user_id, grounds.role, at)
    if row is None:  # ended between the check and now
        raise AuthorityRefused(N_("The delegation you would sign under is no longer active."))
    return describe(row, session.get_one(User, row.delegator_id), user)


def _authenticate(session: Session, ctx: AuditContext, env: SigningEnvironment, user: User, credentials: Credentials) -> None:
    """The signer proves again who they are; wrong credentials count towards lockout (11.300(d))."""
    if username_required(session, user, credentials.session_ref) and not (credentials.username or "").strip():
        raise CredentialsRefused(N_("Enter your user name and your password: the first signature of a session needs both."))
    failure = None
    if credentials.username and normalise_username(credentials.username) != user.username:
        failure = "user name is not the signed-in user's"
    elif not verify_password(env.password_policy, user.password_hash, credentials.password or ""):
        failure = "wrong password"
    elif totp_required(user, env.totp_roles):
        enrolment = active_totp(session, user)
        counter = None if enrolment is None else totp.accepted_counter(
            secret_of(env.totp_key, enrolment), credentials.totp_code or "", utc_now(),
            last_counter=enrolment.last_counter)
        if enrolment is None or counter is None:
            failure = "wrong or reused one-time code"
        else:
            enrolment.last_counter = counter  # a code is accepted once
    if failure is not None:
        result = register_failure(session, ctx, env.password_policy, user, "signature")
        if result.outcome is Outcome.LOCKED:
            refusal: CredentialsRefused = AccountLocked(N_(
                "The credentials are not correct: nothing was signed. The account is now locked and the "
                "administrators have been alerted."))
        else:
            refusal = CredentialsRefused(N_(
                "The user name, password or one-time code is not correct: nothing was signed."))
        refusal.detail = failure
        raise refusal
    user.failed_logins = 0


def _timestamp(authority: SigningAuthority, cms: bytes, data: bytes) -> tuple[bytes, datetime]:
    """An RFC 3161 time-stamp over the signature value; both verified before anything is stored."""
    digest = hashlib.sha256(signature_value(cms)).digest()
    try:
        response = authority.timestamp(digest)
    except TimestampError as exc:
        raise SigningFailed(N_("No time-stamp could be obtained, so nothing was signed: %(reason)s"), reason=str(exc)) from exc
    with memo.shared_run():  # each structure read once for both checks; nothing kept after them
        stamp = verify_timestamp(response, digest, authority.trust.tsa_roots)
        if not stamp.ok or stamp.gen_time is None:
            raise SigningFailed(N_("The time-stamp does not verify, so nothing was signed: %(reason)s"),
                                reason=stamp.reason)
        signed = verify_detached(cms, data, authority.trust.roots, at=stamp.gen_time)
    if not signed.ok:
        raise SigningFailed(N_("The new signature does not verify, so nothing was signed: %(reason)s"), reason=signed.reason)
    return response, stamp.gen_time
