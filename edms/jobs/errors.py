"""What a job request can be refused for, in words people read."""
from __future__ import annotations

from edms.errors import UserError


class JobError(UserError):
    """A job that cannot be requested (an unknown kind, bad parameters)."""


class JobFailed(RuntimeError):
    """Raised by a job's work: the job is retried while it has attempts left, then failed with this message."""


class PermanentJobError(UserError):
    """Raised by a job's work where trying again cannot help (the case or document no longer exists, a kind this
    version does not know): the job fails at once, whatever attempts it has left, and its page says so. The
    message is worded for people (an English msgid, translated where shown); raise it `from` the error it
    stands for, whose name and text administrators then read."""
