"""What people read for an audit event's action, the kind of object it concerns and the fields it changed.

The stored keys (`signature.signed`, `document`, `printed_name`) stay in the chain, the API and the
exports, where machines read them; pages, reports and packages show these labels, translated. Every
action recorded anywhere in edms has a label here (a test reads the code to make sure).
"""
from __future__ import annotations

from edms.errors import N_

ACTION_LABELS = {
    "api.auth_failed": N_("API sign-in failed"),
    "api.token_issued": N_("API token issued"),
    "api.token_revoked": N_("API token revoked"),
    "audit.checkpointed": N_("Audit trail checkpoint signed"),
    "audit.exported": N_("Audit trail exported"),
    "audit.reviewed": N_("Audit trail reviewed"),
    "audit.verified": N_("Audit trail verified"),
    "auth.access_expired": N_("Sign-in refused: access expired"),
    "auth.failed": N_("Sign-in failed"),
    "auth.locked": N_("Account locked"),
    "auth.refused": N_("Sign-in refused"),
    "auth.session_timeout": N_("Session timed out"),
    "auth.sessions_ended": N_("Sessions ended"),
    "auth.signed_in": N_("Signed in"),
    "auth.signed_out": N_("Signed out"),
    "case.created": N_("Case opened"),
    "case.date_recorded": N_("Case date recorded"),
    "case.question_answered": N_("Case question answered"),
    "case.status_changed": N_("Case status changed"),
    "delegation.created": N_("Delegation created"),
    "delegation.revoked": N_("Delegation revoked"),
    "document.approved": N_("Version approved"),
    "document.attachment_added": N_("Attachment added"),
    "document.attachment_refused": N_("Attachment refused"),
    "document.attachment_removed": N_("Attachment removed"),
    "document.created": N_("Record created"),
    "document.draft_saved": N_("Draft saved"),
    "document.rejected": N_("Version refused"),
    "document.revised": N_("New version started"),
    "document.submitted": N_("Submitted for signature"),
    "document.withdrawn": N_("Withdrawn"),
    "inspection.downloaded": N_("Inspection package downloaded"),
    "inspection.exported": N_("Inspection package made"),
    "inspection.viewed": N_("Viewed by an inspector"),
    "notification.failed": N_("Notification not sent"),
    "notification.queued": N_("Notification queued"),
    "notification.sent": N_("Notification sent"),
    "signature.certificate_issued": N_("Signing certificate issued"),
    "signature.certificate_revoked": N_("Signing certificate revoked"),
    "signature.identity_verified": N_("Identity verified"),
    "signature.key_rewrapped": N_("Signing key re-protected"),
    "signature.policy_acknowledged": N_("Signature policy acknowledged"),
    "signature.refused": N_("Signature refused: wrong credentials"),
    "signature.rejected": N_("Refused to sign"),
    "signature.signed": N_("Signed"),
    "signature.totp_enrolled": N_("One-time code enrolled"),
    "signature.totp_enrolment_failed": N_("One-time code enrolment failed"),
    "signature.totp_enrolment_started": N_("One-time code enrolment started"),
    "signature.training_recorded": N_("Training recorded"),
    "system.backup_exported": N_("Backup exported"),
    "user.created": N_("Account created"),
    "user.deactivated": N_("Account deactivated"),
    "user.language_changed": N_("Language changed"),
    "user.password_change_failed": N_("Password change failed"),
    "user.password_changed": N_("Password changed"),
    "user.password_reset": N_("Password reset"),
    "user.roles_changed": N_("Roles changed"),
    "user.unlocked": N_("Account unlocked"),
    "user.updated": N_("Account details changed"),
}

# "signature (no audit event)": a signature row that no event records, shown by the timelines.
UNRECORDED_SIGNATURE = N_("Signature with no audit event")

OBJECT_LABELS = {
    "api": N_("API"),
    "api_token": N_("API token"),
    "audit": N_("Audit trail"),
    "case": N_("Case"),
    "delegation": N_("Delegation"),
    "document": N_("Record"),
    "notification": N_("Notification"),
    "signature": N_("Signature"),
    "system": N_("System"),
    "user": N_("Account"),
}

# The fields events record that are not fields of a document type.
CHANGE_LABELS = {
    "access_expires_at": N_("Access until"),
    "active": N_("Active"),
    "attachment": N_("Attachment"),
    "attempt": N_("Attempt"),
    "certificate_not_after": N_("Certificate valid until"),
    "certificate_serial": N_("Certificate serial number"),
    "certificate_subject": N_("Certificate subject"),
    "comment": N_("Comment"),
    "conditions": N_("Conditions"),
    "content_sha256": N_("Content SHA-256"),
    "count": N_("Count"),
    "delegation": N_("Delegation"),
    "document_id": N_("Record"),
    "email": N_("E-mail"),
    "endpoint": N_("Page"),
    "expires_at": N_("Expires"),
    "failed_logins": N_("Failed sign-ins"),
    "findings": N_("Findings"),
    "from_seq": N_("From seq"),
    "head_hash": N_("Head hash"),
    "identity_verified": N_("Identity verified"),
    "jurisdiction": N_("Jurisdiction"),
    "kind": N_("Kind"),
    "language": N_("Language"),
    "locked": N_("Locked"),
    "meaning": N_("Meaning"),
    "lot": N_("Lot"),
    "number": N_("Number"),
    "oos_detected": N_("OOS detected"),
    "outcome": N_("Outcome"),
    "package": N_("Package"),
    "path": N_("Path"),
    "patient_ref": N_("Patient reference"),
    "period": N_("Period"),
    "physician_id": N_("Treating physician"),
    "policy_sha256": N_("Policy SHA-256"),
    "printed_name": N_("Printed name"),
    "product": N_("Product"),
    "recipient": N_("Recipient"),
    "reference": N_("Reference"),
    "regime": N_("Regime"),
    "revoked_at": N_("Revoked"),
    "role": N_("Role"),
    "roles": N_("Roles"),
    "seq": N_("Seq"),
    "session_epoch": N_("Session generation"),
    "signature": N_("Signature"),
    "signature_id": N_("Signature ID"),
    "signed_at": N_("Signed at"),
    "site_timezone": N_("Site time zone"),
    "status": N_("Status"),
    "step": N_("Signing step"),
    "subject": N_("Subject"),
    "timestamped_at": N_("Time-stamped"),
    "timezone": N_("Time zone"),
    "title": N_("Title"),
    "to_seq": N_("To seq"),
    "tokens_revoked": N_("Tokens revoked"),
    "training": N_("Training"),
    "treating_site": N_("Treating site"),
    "username": N_("User name"),
    "version": N_("Version"),
}


def humanised(key: str) -> str:
    """A key no table names yet, made readable (`ownership_transferred` → "Ownership transferred")."""
    words = key.replace(".", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


# Values of the `kind` a signature event records.
SIGNATURE_KIND_LABELS = {"signature": N_("Signature"), "rejection": N_("Refusal to sign")}
