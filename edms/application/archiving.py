"""`edms archive-timestamps`: keep every signature verifiable for the retention period.

The job runs a list of archivers, each for one kind of signed evidence. Each is idempotent (it adds only
what is due: a run the same day adds nothing) and commits item by item in units of work of its own, each
addition with its audit event, so a crash loses at most the item in hand and the audit chain is never
held for the whole run. Each kind of evidence is one entry in `ARCHIVERS`, a function
`(services, ctx, policy) -> ArchiverReport`: the detached CMS signatures' RFC 4998 archive time-stamps, and
the signed PDFs' document time-stamps (PAdES B-LTA).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography import x509
from sqlalchemy.orm import Session

from edms.application.services import Services
from edms.application.unit_of_work import command, complete
from edms.audit import AuditContext
from edms.crypto.pades import PadesError
from edms.crypto.tsa import TimestampError
from edms.documents import models as dm
from edms.pki.evidence import RENEW_BEFORE, RunCrls
from edms.pki.store import PkiError, PkiStore
from edms.signatures.archive_operations import archive_signature
from edms.signatures.archive_queries import signatures_to_examine
from edms.signatures.keys import revocations
from edms.signatures.models import Signature
from edms.signatures.pdf_archive_operations import archive_signed_pdf, known_certificates
from edms.signatures.pdf_archive_queries import sealed_pdf_versions
from edms.timeutil import utc_now
from edms.verifier.errors import Invalid


@dataclass(frozen=True)
class ArchivePolicy:
    """When evidence is renewed: `renew_before` its newest time-stamp's chain expires, or once an algorithm
    in `retired` (OID -> from when) is or will be retired within that margin."""

    renew_before: timedelta = RENEW_BEFORE
    retired: Mapping[str, datetime] = field(default_factory=dict)
    now: datetime | None = None  # None: the current time at each item


@dataclass
class ArchiverReport:
    name: str
    examined: int = 0
    added: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)  # (item, why it could not be archived)


Archiver = Callable[[Services, AuditContext, ArchivePolicy], ArchiverReport]


def archive_detached_signatures(services: Services, ctx: AuditContext, policy: ArchivePolicy) -> ArchiverReport:
    """An RFC 4998 archive time-stamp for each detached CMS signature whose evidence needs one."""
    report = ArchiverReport("detached CMS signatures")
    store = PkiStore.for_settings(services.settings)
    tsa_roots = _tsa_roots(services, store)
    timestamp = _timestamper(services, store, policy)
    with command(services.sessions) as session:
        candidates = list(signatures_to_examine(session, policy.now or utc_now(), policy.renew_before,
                                                everything=bool(policy.retired)))
        # One CRL per issuer for the whole run, issued at its start: after every signature it judges.
        crls = RunCrls(store, revocations(session), policy.now or utc_now())
    for signature_id in candidates:
        report.examined += 1
        label = str(signature_id)
        try:
            with command(services.sessions) as session:
                signature = session.get(Signature, signature_id)
                if signature is None:
                    continue
                label = signature.signature_id
                added = archive_signature(session, ctx, store, signature, timestamp=timestamp,
                                          now=policy.now or utc_now(), crl_source=crls,
                                          tsa_roots=tsa_roots, renew_before=policy.renew_before,
                                          retired=policy.retired)
                report.added += added is not None
        except (Invalid, PkiError, TimestampError) as exc:
            report.problems.append((label, str(exc)))
    return report


def _tsa_roots(services: Services, store: PkiStore) -> tuple[x509.Certificate, ...]:
    """The organisation's roots (its internal TSA stamped the evidence before any external TSA was
    configured) and the external TSA's roots (tsa_ca_file), if any."""
    return tuple(dict.fromkeys([*store.trust_anchors().roots,
                                *store.trust_anchors(services.settings.tsa_ca_file).tsa_roots]))


def _timestamper(services: Services, store: PkiStore, policy: ArchivePolicy) -> Callable[[bytes], bytes]:
    internal = None if services.settings.tsa_url else store.internal_tsa()

    def timestamp(digest: bytes) -> bytes:
        if internal is not None:
            return internal.timestamp(digest, now=policy.now)  # the internal TSA, at the policy's moment
        return services.system_signer().timestamp(digest)  # the external TSA configured (tsa_url)

    return timestamp


def archive_signed_pdfs(services: Services, ctx: AuditContext, policy: ArchivePolicy) -> ArchiverReport:
    """A new document time-stamp (with the validation data the previous one needs) for each final signed
    PDF whose newest document time-stamp's chain expires within the margin or uses a retired algorithm."""
    report = ArchiverReport("signed PDFs")
    store = PkiStore.for_settings(services.settings)
    roots = _tsa_roots(services, store)
    known = known_certificates(store, roots)
    timestamp = _timestamper(services, store, policy)
    with command(services.sessions) as session:
        candidates = sealed_pdf_versions(session)
        crls = RunCrls(store, revocations(session), policy.now or utc_now())
    for version_id in candidates:
        report.examined += 1
        label = f"document version {version_id}"
        try:
            with command(services.sessions) as session:
                version = session.get(dm.DocumentVersion, version_id)
                if version is None:
                    continue
                document = session.get(dm.Document, version.document_id)
                label = f"{document.number if document else version.document_id} v{version.version} (PDF)"
                added = archive_signed_pdf(session, ctx, services.blobs, version, timestamp=timestamp,
                                           now=policy.now or utc_now(), crl_source=crls, known=known,
                                           roots=roots, renew_before=policy.renew_before,
                                           retired=policy.retired)
                report.added += added is not None
        except (Invalid, PkiError, TimestampError, PadesError) as exc:
            report.problems.append((label, str(exc)))
    return report


ARCHIVERS: tuple[Archiver, ...] = (archive_detached_signatures, archive_signed_pdfs)


def archive_timestamps(services: Services, session: Session | None, ctx: AuditContext,
                       policy: ArchivePolicy | None = None,
                       archivers: tuple[Archiver, ...] = ARCHIVERS) -> list[ArchiverReport]:
    """Run every archiver. `session`, the caller's unit of work if it has one, is completed first."""
    if session is not None:
        complete(session)
    policy = policy or ArchivePolicy()
    return [archiver(services, ctx, policy) for archiver in archivers]
