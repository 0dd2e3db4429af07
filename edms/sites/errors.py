"""Why a site operation was refused."""
from __future__ import annotations

from edms.errors import UserError


class SiteError(UserError):
    """A refused site operation; the message is shown to the person who asked."""
