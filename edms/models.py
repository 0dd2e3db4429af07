"""Imports every model so that `Base.metadata` is complete (for Alembic and the schema check)."""
from edms.audit.models import AuditCheckpoint, AuditEvent, AuditReview  # noqa: F401
from edms.cases.models import Case, CaseAnswer, CaseDate  # noqa: F401
from edms.db import Base  # noqa: F401
from edms.documents.blobstores.database import BlobContent  # noqa: F401
from edms.documents.models import Attachment, Document, DocumentVersion, NumberSequence  # noqa: F401
from edms.documents.pdf_models import SignedPdfRevision  # noqa: F401
from edms.documents.rendition_models import FrozenRendition  # noqa: F401
from edms.jobs.models import Job  # noqa: F401
from edms.notifications.models import Notification  # noqa: F401
from edms.signatures.archive_models import ArchiveTimestamp  # noqa: F401
from edms.signatures.models import (  # noqa: F401
    IdentityVerification,
    PolicyAcknowledgement,
    Signature,
    SigningCredential,
    TotpEnrolment,
    TrainingRecord,
)
from edms.sites.models import Site, SiteMember  # noqa: F401
from edms.users.models import ApiToken, PasswordHistory, User, UserRole, WebSession  # noqa: F401
from edms.workflow.models import Delegation, TaskEscalation  # noqa: F401
