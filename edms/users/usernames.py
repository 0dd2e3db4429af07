"""User names: one person, one name, for ever (21 CFR 11.100(a), PIC/S PI 041 §9.5)."""
from __future__ import annotations

import re
import unicodedata

from edms.errors import N_, UserError

# Names that identify a function rather than a person are refused for people's accounts.
GENERIC_NAMES = frozenset(
    {
        "admin", "administrator", "root", "system", "sysadmin", "superuser", "qa", "qc", "quality",
        "lab", "laboratory", "test", "tester", "testing", "user", "users", "guest", "demo", "operator",
        "manager", "support", "service", "shared", "default", "physician", "doctor", "author",
        "regulatory", "inspector", "auditor", "reviewer", "approver", "signer", "nurse", "pharmacy",
        "manufacturing", "production", "clinic", "hospital", "temp", "training",
    }
)

_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{2,63}$")


class UsernameRejected(UserError):
    pass


def normalise_username(raw: str) -> str:
    """NFKC + case folding, so `Ｋenji.Sato` and `kenji.sato` are the same name."""
    return unicodedata.normalize("NFKC", raw).strip().casefold()


def check_username(raw: str) -> str:
    name = normalise_username(raw)
    stems = [part.rstrip("0123456789") for part in re.split(r"[._-]", name)]
    if all(stem in GENERIC_NAMES or not stem for stem in stems):
        raise UsernameRejected(
            N_("'%(name)s' is a generic name; every account must belong to one identified person (PIC/S PI 041 §9.5)."),
            name=name,
        )
    if not _PATTERN.match(name):
        raise UsernameRejected(
            N_("A user name has 3 to 64 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter.")
        )
    return name
