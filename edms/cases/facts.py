"""What opening a case takes: its facts, and who may open one."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from edms.users.roles import AUTHOR, QA, REGULATORY

# Manufacturing, QA and regulatory open cases; the physician is named on it.
CASE_OPENERS = (AUTHOR, QA, REGULATORY)
PATIENT_REF_PATTERN = r"PT-[A-Z0-9]{4,12}"


@dataclass(frozen=True, kw_only=True)
class CaseFacts:
    """The case's site is `site_id` (a site record). A caller that names the site only by its name and
    zone (`treating_site`, `site_timezone`: older API clients, scripts) gets the site of that name, which is
    registered, audited, when there is none yet."""
    regime_key: str
    product: str
    lot: str
    patient_ref: str
    physician_id: int | None
    oos_detected_at: datetime
    site_id: int | None = None
    treating_site: str = ""
    site_timezone: str = ""
