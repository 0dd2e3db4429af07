"""Renditions frozen and stored (issue 15): the first export of a frozen version in the language and zone of its
case's site stores its DOCX (content-addressed in the blob store, one row, one audit event); later exports reuse
it, re-hashing it as it is read, while a fresh rendering would print the same. The package verifies offline
exactly as before; a stored DOCX changed behind edms's back is caught, never exported; in another language or
zone every DOCX is made afresh and nothing is stored."""
from __future__ import annotations

import dataclasses
import io
import json
import zipfile

import pytest
from sqlalchemy import func, select

from edms.audit import AuditContext
from edms.audit.models import AuditEvent
from edms.documents.blobstore import BlobCorrupted
from edms.documents.models import Document
from edms.documents.presentation import build_rendition
from edms.documents.rendition_models import DOCX, FrozenRendition
from edms.documents.rendition_operations import STORED_ACTION
from edms.documents.renditions import render_docx
from edms.documents.renditions.word import docx_key
from edms.inspection.package import CASE, DOCUMENT, Scope, environment_from_settings, export_package
from edms.signatures import presentation
from edms.verifier.package import verify_package
from tests.support.inspection import export_bytes, package_files, site_locale


def stored_rows(app) -> list[FrozenRendition]:
    with app.extensions["edms"].sessions() as session:
        return list(session.scalars(select(FrozenRendition).order_by(FrozenRendition.id)))


def docx_paths(files: dict[str, bytes]) -> dict[int, str]:
    manifest = json.loads(files["manifest.json"])
    return {version["version"]: version["renditions"]["docx"]
            for document in manifest["documents"] for version in document["versions"]}


def docx_parts(data: bytes) -> dict[str, bytes]:
    """A DOCX's parts: what Word reads (the ZIP's own entry times are those of the moment it was written)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.mark.req("11.10(b)")
@pytest.mark.req("ERES-preservation")
def test_the_first_export_stores_each_frozen_versions_docx_and_the_next_reuses_it_and_still_verifies(app, signed_case):
    document_id = signed_case.documents[0]
    language, zone = site_locale(app, document_id)
    first = export_bytes(app, Scope(DOCUMENT, document_id), language=language, zone=zone)
    rows = stored_rows(app)
    services = app.extensions["edms"]
    with services.sessions() as session:
        document = session.get(Document, document_id)
        frozen = {version.id: version.version for version in document.versions if version.frozen}
        stored_events = session.scalar(select(func.count()).select_from(AuditEvent)
                                       .where(AuditEvent.action == STORED_ACTION))
    assert frozen and {row.version_id for row in rows} == set(frozen)
    assert all((row.format, row.language, row.display_tz) == (DOCX, language, zone) for row in rows)
    assert stored_events == len(rows)
    first_files = package_files(first)
    for row in rows:  # what the first package holds is what was stored
        assert first_files[docx_paths(first_files)[frozen[row.version_id]]] == services.blobs.get(row.sha256)

    second = export_bytes(app, Scope(DOCUMENT, document_id), language=language, zone=zone)
    assert [row.id for row in stored_rows(app)] == [row.id for row in rows]  # nothing made again
    files = package_files(second)
    for row in rows:
        assert files[docx_paths(files)[frozen[row.version_id]]] == services.blobs.get(row.sha256)
    report = verify_package(io.BytesIO(second))
    assert report.ok, [item.line() for item in report.failures]


@pytest.mark.req("11.10(b)")
def test_a_stored_docx_is_the_same_document_a_fresh_rendering_in_its_language_and_zone_makes(app, signed_case):
    document_id = signed_case.documents[0]
    language, zone = site_locale(app, document_id)
    export_bytes(app, Scope(DOCUMENT, document_id), language=language, zone=zone)
    services = app.extensions["edms"]
    with services.sessions() as session:
        document = session.get(Document, document_id)
        doc_type = services.document_types[document.type_key]
        trust = presentation.current_trust(session, services.settings)
        rows = {row.version_id: row for row in session.scalars(select(FrozenRendition))}
        assert rows
        for version in document.versions:
            if version.id not in rows:
                continue
            fresh = build_rendition(session, doc_type, document, version, language=language, display_tz=zone,
                                    signatures=presentation.rendition_signatures(session, version, trust, doc_type, zone))
            stored = rows[version.id]
            assert docx_key(fresh) == stored.layout_sha256
            fresh = dataclasses.replace(fresh, generated_at=stored.generated_at)
            assert docx_parts(render_docx(fresh)) == docx_parts(services.blobs.get(stored.sha256))


@pytest.mark.req("11.10(a)")
def test_a_stored_docx_changed_behind_edms_back_is_caught_and_never_exported(app, signed_case):
    document_id = signed_case.documents[0]
    language, zone = site_locale(app, document_id)
    export_bytes(app, Scope(DOCUMENT, document_id), language=language, zone=zone)
    services = app.extensions["edms"]
    row = stored_rows(app)[-1]
    stored = next(path for path in (services.settings.data_dir / "blobs").rglob(row.sha256 + "*"))
    stored.write_bytes(stored.read_bytes() + b"appended behind edms's back")
    with pytest.raises(BlobCorrupted, match=row.sha256):
        export_bytes(app, Scope(DOCUMENT, document_id), language=language, zone=zone)
    with services.sessions() as session:  # the attempt is on record, as every export is
        assert session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "inspection.exported")) == 2


@pytest.mark.req("11.10(b)")
def test_in_another_language_every_docx_is_made_afresh_and_none_is_stored(app, signed_case):
    document_id = signed_case.documents[0]
    language, zone = site_locale(app, document_id)
    other = "en" if language == "ja" else "ja"
    data = export_bytes(app, Scope(CASE, signed_case.case_id), language=other, zone=zone)
    assert stored_rows(app) == []
    files = package_files(data)
    assert all(files[path].startswith(b"PK") for path in docx_paths(files).values())
    assert verify_package(io.BytesIO(data)).ok


class StoreRefusingWrites:
    """A blob store that can be read but not written to (full disk, a read-only mount)."""

    def __init__(self, blobs) -> None:
        self._blobs = blobs

    def put(self, data: bytes, **_options) -> str:
        raise OSError(28, "No space left on device")

    def __getattr__(self, name: str):
        return getattr(self._blobs, name)


def test_when_the_docx_cannot_be_stored_the_package_is_still_complete_and_verifies(app, signed_case):
    document_id = signed_case.documents[0]
    language, zone = site_locale(app, document_id)
    services = app.extensions["edms"]
    env = environment_from_settings(services.settings, services.document_types, StoreRefusingWrites(services.blobs),
                                    services.regimes)
    out = io.BytesIO()
    export_package(services.engine, services.sessions, AuditContext.system("test export"), env,
                   Scope(DOCUMENT, document_id), out, language=language, display_tz=zone)
    assert stored_rows(app) == []
    assert verify_package(io.BytesIO(out.getvalue())).ok


@pytest.mark.req("A11-7")
def test_edms_verify_re_hashes_the_stored_docx_renditions_and_names_an_altered_one(app, signed_case):
    from edms.application.integrity import check_integrity

    document_id = signed_case.documents[0]
    language, zone = site_locale(app, document_id)
    export_bytes(app, Scope(DOCUMENT, document_id), language=language, zone=zone)
    services = app.extensions["edms"]
    assert check_integrity(services.engine, only={"stored_files"}, blobs=services.blobs).ok
    row = stored_rows(app)[-1]
    stored = next(path for path in (services.settings.data_dir / "blobs").rglob(row.sha256 + "*"))
    stored.chmod(0o644)
    stored.write_bytes(stored.read_bytes() + b"appended behind edms's back")
    report = check_integrity(services.engine, only={"stored_files"}, blobs=services.blobs)
    assert not report.ok
    assert report.first_problem.key == row.sha256 and "DOCX rendition" in report.first_problem.text
