"""Why nothing was signed. Each refusal names what is missing or wrong, in words the signer can act on.

The ceremony's own refusals (credentials, readiness, an invalid request) extend `SigningRefused`, which
lives with the routing's refusals in edms.workflow.refusals: they are audited refusals, raised before
anything but the attempt's own audit event (and a failure count) was written.
`SigningFailed` means the system could not complete a signature it had allowed; it is rolled back.
"""
from __future__ import annotations

from edms.errors import AuditedRefusal, UserError
from edms.workflow.refusals import SigningRefused


class CredentialsRefused(SigningRefused):
    """Wrong user name, password or one-time code (counted towards lockout)."""

    code = "bad_credentials"
    http_status = 401


class AccountLocked(CredentialsRefused):
    code = "locked"


class NotReady(SigningRefused):
    """A precondition of signing rights is missing: identity check, policy acknowledgement, training..."""

    code = "not_ready"

    def __init__(self, message: str, *, missing: list | None = None, **params: object) -> None:
        super().__init__(message, **params)
        self.missing = missing or []


class SigningFailed(UserError):
    """The signature could not be completed (no time-stamp, PKI unavailable); nothing was stored."""

    code = "signing_failed"
    http_status = 503


class GateRecordRefused(AuditedRefusal):
    """A refused identity check, training record, policy acknowledgement or second-factor enrolment."""

    code = "refused"
    http_status = 400


class InvalidRequest(SigningRefused):
    """The request itself is incomplete (no reason for a rejection, a comment too long...)."""

    code = "invalid_request"
    http_status = 400
