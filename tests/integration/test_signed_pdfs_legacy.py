"""Versions signed before signed PDFs keep their detached signatures; `edms freeze-legacy-pdfs` gives each a
frozen PDF that lists its earlier signatures, without pretending to re-sign them, and time-stamps it when the
version is final."""
from __future__ import annotations

import io

from click.testing import CliRunner
from pypdf import PdfReader

from edms.application.unit_of_work import command
from edms.crypto.pades_validation import DOCUMENT_TIMESTAMP, SIGNATURE, validate_signed_pdf
from edms.documents import models as dm
from edms.documents.pdf_models import DOCUMENT_TIMESTAMP as TIMESTAMP_REVISION
from edms.documents.pdf_models import LEGACY
from edms.documents.pdf_queries import pdf_revisions, signed_pdf
from edms.pki import PkiStore
from edms.pki.store import ROOT


def test_freeze_legacy_pdfs_lists_the_earlier_signatures_without_re_signing_and_seals_the_final_version(
        app, signing, monkeypatch):
    signed = signing.sign_through()  # signed before signed PDFs: no PDF was frozen at submission
    services = app.extensions["edms"]
    with services.sessions() as session:
        version = session.get(dm.Document, signing.document_id).latest
        assert version.status == dm.APPROVED and pdf_revisions(session, version) == []

    from edms.cli import commands as cli

    monkeypatch.setattr(cli, "_settings", lambda: services.settings)
    result = CliRunner().invoke(cli.main, ["freeze-legacy-pdfs"])
    assert result.exit_code == 0, result.output
    assert "1 version(s) given a frozen PDF" in result.output

    with command(services.sessions) as session:
        version = session.get(dm.Document, signing.document_id).latest
        revisions = pdf_revisions(session, version)
        pdf = signed_pdf(session, services.blobs, version)
    assert [revision.kind for revision in revisions] == [LEGACY, TIMESTAMP_REVISION]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    for signature in signed:
        assert signature.signature_id in text, "each earlier signature is listed"
    checks = validate_signed_pdf(pdf, [PkiStore.for_settings(services.settings).certificate(ROOT)])
    assert [check.kind for check in checks if check.kind == SIGNATURE] == [], "nothing pretends to be re-signed"
    assert [check.ok for check in checks if check.kind == DOCUMENT_TIMESTAMP] == [True]

    again = CliRunner().invoke(cli.main, ["freeze-legacy-pdfs"])
    assert "0 version(s) given a frozen PDF" in again.output, "run again, it changes nothing"
