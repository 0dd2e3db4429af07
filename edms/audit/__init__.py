"""The audit trail: one `record()` entry point, a SHA-256 hash chain, and its verification.

This package knows nothing of Flask; callers pass an `AuditContext` describing who acts and from where.
"""
from edms.audit.context import AuditContext
from edms.audit.record import record

__all__ = ["AuditContext", "record"]
