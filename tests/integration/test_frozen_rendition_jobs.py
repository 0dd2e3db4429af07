"""A frozen version's DOCX is stored when the version changes, not by the first export (issue 15): every use
case that changes what it prints (a submission, a signature, a refusal, a new version, a withdrawal) queues a
`rendition.freeze` job in its own unit of work; the worker renders the DOCX of the document's frozen versions
in the language and zone of its case's site and stores them (blob, row, audit event). The next export makes no
DOCX, reuses the stored ones (re-hashed as read: an altered one fails the export) and verifies offline."""
from __future__ import annotations

import dataclasses
import io
import json

import pytest
from sqlalchemy import select

from edms.application import drafting, frozen_renditions
from edms.application import signing as signing_use_cases
from edms.application.jobs import run_next
from edms.application.unit_of_work import command, use_case
from edms.audit import AuditContext
from edms.documents import models as dm
from edms.documents.blobstore import BlobCorrupted
from edms.documents.presentation import build_rendition
from edms.documents.rendition_models import DOCX, FrozenRendition
from edms.documents.rendition_operations import STORED_ACTION
from edms.documents.renditions.word import docx_key
from edms.inspection import renderer
from edms.inspection.package import CASE, DOCUMENT, Scope, environment_from_settings, export_package
from edms.jobs.models import QUEUED, SUCCEEDED, Job
from edms.signatures import presentation
from edms.signatures.ceremony import Credentials
from edms.signatures.errors import SigningFailed
from edms.signatures.pdf_operations import pdf_locale
from edms.users.models import User
from edms.verifier.package import verify_package
from tests.conftest import PASSWORD
from tests.integration.signing_fixtures import context
from tests.support.inspection import events, run_jobs


def freeze_jobs(services) -> list[Job]:
    with services.sessions() as session:
        return list(session.scalars(select(Job).where(Job.kind == frozen_renditions.FREEZE).order_by(Job.id)))


def stored_rows(services) -> list[FrozenRendition]:
    with services.sessions() as session:
        return list(session.scalars(select(FrozenRendition).order_by(FrozenRendition.id)))


def site_locale(services, document_id: int) -> tuple[str, str]:
    with services.sessions() as session:
        return pdf_locale(session, session.get(dm.Document, document_id))


def queue_as_the_use_cases_do(services, document_ids) -> None:
    """The signed case is built with the domain operations (tests/support/signed_case.py): queue the job each
    document's last use case would have queued."""
    with command(services.sessions) as session, use_case(session):
        for document_id in document_ids:
            frozen_renditions.queue(services, session, AuditContext.system("test"), session.get(dm.Document, document_id))


def export(services, scope: Scope, language: str, zone: str) -> bytes:
    env = environment_from_settings(services.settings, services.document_types, services.blobs, services.regimes)
    out = io.BytesIO()
    export_package(services.engine, services.sessions, AuditContext.system("test export"), env, scope, out,
                   language=language, display_tz=zone)
    return out.getvalue()


@pytest.fixture
def docx_renders(monkeypatch) -> list[str]:
    """The DOCX the export renders itself (rather than reads from the store), by record number and version."""
    made: list[str] = []
    render = renderer.render_docx

    def counting(rendition):
        made.append(f"{rendition.number} v{rendition.version}")
        return render(rendition)

    monkeypatch.setattr(renderer, "render_docx", counting)
    return made


def fresh_keys(services, document_id: int) -> dict[int, str]:
    """The print (docx_key) of each frozen version as a fresh rendering in its site's language and zone makes it."""
    language, zone = site_locale(services, document_id)
    with services.sessions() as session:
        document = session.get(dm.Document, document_id)
        doc_type = services.document_types[document.type_key]
        trust = presentation.current_trust(session, services.settings)
        return {version.id: docx_key(build_rendition(
            session, doc_type, document, version, language=language, display_tz=zone,
            signatures=presentation.rendition_signatures(session, version, trust, doc_type, zone)))
            for version in document.versions if version.frozen}


@pytest.mark.req("11.10(b)")
def test_a_signature_queues_the_docx_job_in_its_own_unit_of_work_and_signing_does_not_wait_for_it(app, signing):
    services = app.extensions["edms"]
    with command(services.sessions) as session:
        author = session.get(User, signing.author.id)
        document = session.get(dm.Document, signing.document_id)
        signing_use_cases.sign(services, session, context(author), author, document, document.latest,
                         Credentials(password=PASSWORD, username=author.username))
        queued = [job for job in session.scalars(select(Job).where(Job.kind == frozen_renditions.FREEZE))]
        assert [job.parameters["document_id"] for job in queued] == [signing.document_id]  # before the commit
    (job,) = freeze_jobs(services)
    assert job.status == QUEUED and job.requested_by is None
    assert stored_rows(services) == []  # the signature did not render it: the worker will
    (requested,) = events(app, "job.requested", object_id=str(job.id))
    assert json.loads(requested.changes)["kind"]["new"] == frozen_renditions.FREEZE


def test_a_signature_that_fails_queues_no_job(app, signing):
    services = app.extensions["edms"]
    authority = services.signing_authority()

    def no_time_stamp(_digest: bytes) -> bytes:
        from edms.crypto.tsa import TimestampError
        raise TimestampError("the time-stamping authority does not answer")

    services._opened["authority"] = dataclasses.replace(authority, timestamp=no_time_stamp)
    with command(services.sessions) as session:
        author = session.get(User, signing.author.id)
        document = session.get(dm.Document, signing.document_id)
        with pytest.raises(SigningFailed):
            signing_use_cases.sign(services, session, context(author), author, document, document.latest,
                                  Credentials(password=PASSWORD, username=author.username))
    assert freeze_jobs(services) == []


@pytest.mark.req("11.10(b)")
@pytest.mark.req("ERES-preservation")
def test_in_english_the_job_a_signature_queued_stores_the_docx_and_the_next_export_makes_none(app, signing,
                                                                                              docx_renders):
    services = app.extensions["edms"]
    with command(services.sessions) as session:
        author = session.get(User, signing.author.id)
        document = session.get(dm.Document, signing.document_id)
        signing_use_cases.sign(services, session, context(author), author, document, document.latest,
                              Credentials(password=PASSWORD, username=author.username))
    language, zone = site_locale(services, signing.document_id)
    assert (language, zone) == ("en", "UTC")  # a record outside a case
    (job,) = freeze_jobs(services)
    assert run_jobs(app) == [job.id]
    (row,) = stored_rows(services)
    assert (row.format, row.language, row.display_tz) == (DOCX, "en", "UTC")
    assert [event.object_id for event in events(app, STORED_ACTION)] == [str(signing.document_id)]
    assert docx_renders == []  # the worker's rendering is not the export's
    data = export(services, Scope(DOCUMENT, signing.document_id), language, zone)
    assert docx_renders == []
    report = verify_package(io.BytesIO(data))
    assert report.ok, [item.line() for item in report.failures]


@pytest.mark.req("11.10(b)")
@pytest.mark.req("ERES-preservation")
def test_in_japanese_once_the_jobs_ran_the_first_export_of_a_case_renders_no_docx_and_verifies(app, signed_case,
                                                                                               docx_renders):
    services = app.extensions["edms"]
    queue_as_the_use_cases_do(services, signed_case.documents)
    ran = run_jobs(app)
    assert len(ran) == len(signed_case.documents)
    with services.sessions() as session:
        assert all(session.get(Job, job_id).status == SUCCEEDED for job_id in ran)
    language, zone = site_locale(services, signed_case.documents[0])
    assert language == "ja"
    frozen = {version_id: key for document_id in signed_case.documents
              for version_id, key in fresh_keys(services, document_id).items()}
    rows = stored_rows(services)
    assert {(row.version_id, row.layout_sha256) for row in rows} == set(frozen.items())
    assert all((row.language, row.display_tz) == (language, zone) for row in rows)

    data = export(services, Scope(CASE, signed_case.case_id), language, zone)
    assert docx_renders == []
    assert [row.id for row in stored_rows(services)] == [row.id for row in rows]  # the export stored nothing new
    report = verify_package(io.BytesIO(data))
    assert report.ok, [item.line() for item in report.failures]


def test_the_job_run_twice_stores_nothing_more_and_a_job_queued_before_a_change_renders_the_current_state(
        app, signed_case, docx_renders):
    services = app.extensions["edms"]
    document_id = signed_case.documents[0]
    queue_as_the_use_cases_do(services, [document_id])  # queued for the state before the revision below
    with command(services.sessions) as session:
        document = session.get(dm.Document, document_id)
        owner = session.get(User, document.owner_id)
        drafting.revise(services, session, context(owner), owner, document, "Viability re-tested on the retained sample.")
    first, after_revision = freeze_jobs(services)
    assert run_next(services) == first.id
    current = fresh_keys(services, document_id)
    assert {(row.version_id, row.layout_sha256) for row in stored_rows(services)} == set(current.items())
    stored = len(stored_rows(services))
    assert run_next(services) == after_revision.id
    assert len(stored_rows(services)) == stored  # the same print: nothing rendered or stored again
    with services.sessions() as session:
        assert session.get(Job, after_revision.id).result["stored"] == 0

    language, zone = site_locale(services, document_id)
    assert verify_package(io.BytesIO(export(services, Scope(DOCUMENT, document_id), language, zone))).ok
    with services.sessions() as session:
        draft = session.get(dm.Document, document_id).latest
        assert not draft.frozen
        number = session.get(dm.Document, document_id).number
    assert docx_renders == [f"{number} v{draft.version}"]  # only the new draft, whose DOCX is never stored


@pytest.mark.req("11.10(a)")
def test_a_docx_the_job_stored_and_then_altered_behind_edms_back_fails_the_export(app, signed_case):
    services = app.extensions["edms"]
    document_id = signed_case.documents[0]
    queue_as_the_use_cases_do(services, [document_id])
    run_jobs(app)
    row = stored_rows(services)[-1]
    stored = next(path for path in (services.settings.data_dir / "blobs").rglob(row.sha256 + "*"))
    stored.chmod(0o644)
    stored.write_bytes(stored.read_bytes() + b"appended behind edms's back")
    language, zone = site_locale(services, document_id)
    with pytest.raises(BlobCorrupted, match=row.sha256):
        export(services, Scope(DOCUMENT, document_id), language, zone)
