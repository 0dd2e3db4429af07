"""Which country a time zone lies in: a default for a new site's country, and for the sites 0010_sites made
from the cases' free-text treating sites. Read from the system's tz database (zone.tab) where it is
installed, else from a short table of the zones edms's sites use."""
from __future__ import annotations

from functools import cache
from pathlib import Path

ZONE_TAB = Path("/usr/share/zoneinfo/zone.tab")
KNOWN = {
    "Asia/Tokyo": "JP", "Europe/Berlin": "DE", "Europe/Paris": "FR", "Europe/London": "GB", "Europe/Amsterdam": "NL",
    "Europe/Madrid": "ES", "Europe/Rome": "IT", "Europe/Vienna": "AT", "Europe/Zurich": "CH",
    "America/New_York": "US", "America/Chicago": "US", "America/Denver": "US", "America/Los_Angeles": "US",
}


@cache
def _zone_tab() -> dict[str, str]:
    try:
        lines = ZONE_TAB.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    table = {}
    for line in lines:
        parts = line.split("\t")
        if len(parts) >= 3 and not line.startswith("#"):
            table[parts[2]] = parts[0]
    return table


def country_of_zone(zone: str) -> str | None:
    return KNOWN.get(zone) or _zone_tab().get(zone)
