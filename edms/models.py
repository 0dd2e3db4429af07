"""Imports every model so that `Base.metadata` is complete (for Alembic and the schema check)."""
from edms.audit.models import AuditEvent  # noqa: F401
from edms.db import Base  # noqa: F401
from edms.users.models import ApiToken, PasswordHistory, User, UserRole  # noqa: F401
