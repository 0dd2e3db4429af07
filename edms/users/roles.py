"""The roles of edms and the rules for combining them (least privilege, PIC/S PI 041 §9.5)."""
from __future__ import annotations

from edms.errors import N_, UserError

AUTHOR = "author"
QA = "qa"
PHYSICIAN = "physician"
REGULATORY = "regulatory"
INSPECTOR = "inspector"
ADMIN = "admin"

ROLES = (AUTHOR, QA, PHYSICIAN, REGULATORY, INSPECTOR, ADMIN)

# Roles that author or sign controlled content.
CONTENT_ROLES = frozenset({AUTHOR, QA, PHYSICIAN, REGULATORY})

ROLE_LABELS = {
    AUTHOR: N_("Author (manufacturing / QC)"),
    QA: N_("Quality assurance"),
    PHYSICIAN: N_("Treating physician"),
    REGULATORY: N_("Regulatory affairs"),
    INSPECTOR: N_("Inspector (read-only)"),
    ADMIN: N_("Administrator"),
}


class RoleError(UserError):
    pass


def check_role_set(roles: set[str]) -> None:
    """Administrators manage accounts only; inspectors only read. Neither combines with content roles."""
    unknown = roles - set(ROLES)
    if unknown:
        raise RoleError(N_("Unknown role(s): %(roles)s."), roles=", ".join(sorted(unknown)))
    if not roles:
        raise RoleError(N_("A user needs at least one role."))
    if ADMIN in roles and roles - {ADMIN}:
        raise RoleError(N_("An administrator account cannot also author, sign or inspect: use a separate account."))
    if INSPECTOR in roles and roles - {INSPECTOR}:
        raise RoleError(N_("An inspector account is read-only and cannot hold other roles."))
