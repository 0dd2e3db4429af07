"""What the inspection tests share: an inspector, packages and the verifier run as a program."""
from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

import edms.models  # noqa: F401  (every table in Base.metadata)
from edms.audit import AuditContext
from edms.audit.models import AuditEvent
from edms.db import Base
from edms.documents.models import Document
from edms.inspection.package import environment_from_settings, export_package
from edms.signatures.pdf_operations import pdf_locale
from tests.conftest import sign_in

INSPECTOR = ("sofia.lindqvist", "Sofia Lindqvist (PMDA)")
EDMS_VERIFY = Path(sys.executable).parent / "edms-verify"


@pytest.fixture
def inspector(people):
    return people.make(INSPECTOR[0], "inspector", printed_name=INSPECTOR[1], timezone="Asia/Tokyo")


@pytest.fixture
def inspector_client(app, client, inspector):
    response = sign_in(client, INSPECTOR[0])
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def row_counts(app) -> dict[str, int]:
    with app.extensions["edms"].sessions() as session:
        return {table.name: session.scalar(select(func.count()).select_from(table))
                for table in Base.metadata.sorted_tables}


def events(app, action: str, **where) -> list[AuditEvent]:
    with app.extensions["edms"].sessions() as session:
        query = select(AuditEvent).where(AuditEvent.action == action)
        for name, value in where.items():
            query = query.where(getattr(AuditEvent, name) == value)
        return list(session.scalars(query.order_by(AuditEvent.seq)))


def run_verifier(package: Path, *args: str) -> subprocess.CompletedProcess:
    """`edms-verify` as an inspector runs it: a separate program, no database, no settings."""
    return subprocess.run([str(EDMS_VERIFY), str(package), *args], capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin"})


def package_files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def rezip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def run_jobs(app) -> list[int]:
    """Run every waiting job synchronously, as the worker would (tests run with job_runner = "manual")."""
    from edms.application.jobs import run_next

    ran = []
    while (job_id := run_next(app.extensions["edms"])) is not None:
        ran.append(job_id)
    return ran


def exported_package(client, url: str, data: dict):
    """Export from a page: the POST queues a job and goes to its page; the worker runs it; the page's download
    link gives the package. The download's response."""
    response = client.post(url, data=data)
    assert response.status_code == 302 and "/jobs/" in response.headers["Location"], response.get_data(as_text=True)
    job_page = response.headers["Location"]
    run_jobs(client.application)
    page = client.get(job_page).get_data(as_text=True)
    assert 'id="job-download"' in page, page
    return client.get(job_page.rstrip("/") + "/download")


def api_exported_package(api, path: str):
    """Export over the API: 202 and the job's Location; the worker runs it; GET the job's result."""
    response = api.post(path)
    assert response.status_code == 202 and response.headers["Location"].startswith("/api/v1/jobs/"), response.json
    run_jobs(api.client.application)
    job = api.get(response.headers["Location"].removeprefix("/api/v1")).json
    assert job["status"] == "succeeded", job
    return api.get(f"/jobs/{job['id']}/result")


def export_into(app, scope, out, *, language: str, zone: str):
    """Export `scope`'s inspection package into `out` as the export job does, by the system."""
    services = app.extensions["edms"]
    env = environment_from_settings(services.settings, services.document_types, services.blobs, services.regimes)
    return export_package(services.engine, services.sessions, AuditContext.system("test export"), env, scope, out,
                          language=language, display_tz=zone)


def export_bytes(app, scope, *, language: str, zone: str) -> bytes:
    out = io.BytesIO()
    export_into(app, scope, out, language=language, zone=zone)
    return out.getvalue()


def site_locale(app, document_id: int) -> tuple[str, str]:
    """The language and zone of the site of the document's case (what its PDF is frozen in)."""
    with app.extensions["edms"].sessions() as session:
        return pdf_locale(session, session.get(Document, document_id))
