"""Per-request access to the database session, settings and the audit context."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g, request
from flask_login import current_user
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from edms.audit import AuditContext
from edms.config import Settings
from edms.documents.blobstore import BlobStore
from edms.documents.operations import UploadLimits
from edms.cases.regimes import Regime
from edms.documents.types import DocumentType


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    document_types: dict[str, DocumentType]
    blobs: BlobStore
    upload_limits: UploadLimits
    regimes: dict[str, Regime]
    # Gates outside a document that its signing waits for (a case's regime prerequisites).
    record_gates: tuple = ()


def services() -> Services:
    return current_app.extensions["edms"]


def settings() -> Settings:
    return services().settings


def db() -> Session:
    """The request's session; closed (and rolled back unless committed) at the end of the request."""
    if "db_session" not in g:
        g.db_session = services().sessions()
    return g.db_session


def close_db(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()


def audit_context() -> AuditContext:
    user = getattr(g, "api_user", None) or (current_user.user if current_user.is_authenticated else None)
    return AuditContext(
        user_id=user.id if user else None,
        user_name=user.printed_name if user else "anonymous",
        client_addr=request.remote_addr,
        request_id=g.get("request_id") or "-",
    )
