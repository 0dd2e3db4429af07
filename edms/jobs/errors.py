"""What a job request can be refused for, in words people read."""
from __future__ import annotations

from edms.errors import UserError


class JobError(UserError):
    """A job that cannot be requested (an unknown kind, bad parameters)."""


class JobFailed(RuntimeError):
    """Raised by a job's work: the job is retried while it has attempts left, then failed with this message."""
