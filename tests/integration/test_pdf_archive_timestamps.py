"""`edms archive-timestamps` on the signed case's PDFs: before the newest document time-stamp's certificate
chain expires, the validation data it needs and a new document time-stamp (PAdES B-LTA renewal), appended,
audited, idempotent; and pyHanko's AdES validation of a signed PDF, at a simulated 2056 across a TSA
renewal and a root rollover, PASSES given those document time-stamps and FAILS without them."""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko_certvalidator.context import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, RevocationCheckingPolicy, RevocationCheckingRule
from sqlalchemy import select

from edms.application import archiving
from edms.application.services import build_services
from edms.application.unit_of_work import command
from edms.audit import AuditContext
from edms.audit.models import AuditEvent
from edms.crypto.pades import off_event_loop
from edms.crypto.pades_archive import newest_document_timestamp
from edms.crypto.pades_validation import _ades_spec
from edms.documents import models as dm
from edms.documents.pdf_models import DOCUMENT_TIMESTAMP as STAMP_REVISION
from edms.documents.pdf_queries import pdf_revisions, signed_pdf
from edms.pki.lifecycle import renew_tsa, rollover_root
from edms.pki.store import PkiStore
from edms.signatures.pdf_archive_queries import sealed_pdf_versions
from edms.timeutil import utc_now

YEAR = timedelta(days=365)
IF_DECLARED = RevocationCheckingRule.CHECK_IF_DECLARED


@pytest.fixture
def services(settings, signed_case):
    services = build_services(settings)
    yield services
    services.engine.dispose()


def run(services, now=None) -> archiving.ArchiverReport:
    [report] = archiving.archive_timestamps(services, None, AuditContext.system("edms archive-timestamps (test)"),
                                            archiving.ArchivePolicy(now=now), archivers=(archiving.archive_signed_pdfs,))
    assert report.problems == []
    return report


def final_pdfs(services) -> dict[int, bytes]:
    with command(services.sessions) as session:
        return {version_id: signed_pdf(session, services.blobs, session.get(dm.DocumentVersion, version_id))
                for version_id in sealed_pdf_versions(session)}


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


@contextlib.contextmanager
def validator_clock(at: datetime) -> Iterator[None]:
    """pyhanko-certvalidator's moment set to `at`: its past-validation (time-sliding) starts from "now" and its
    proof-of-existence manager dates what it learns "now", whatever validation time it is given."""
    import pyhanko.sign.validation.ades as ades_module
    import pyhanko_certvalidator.ltv.ades_past as past_module
    import pyhanko_certvalidator.ltv.poe as poe_module

    class Simulated(datetime):
        @classmethod
        def now(cls, tz=None):  # noqa: ANN001, ANN206
            return at.astimezone(tz) if tz is not None else at.replace(tzinfo=None)

    modules = (ades_module, past_module, poe_module)
    saved = [module.datetime for module in modules]
    for module in modules:
        module.datetime = Simulated
    try:
        yield
    finally:
        for module, original in zip(modules, saved, strict=True):
            module.datetime = original


def judged_at(pdf: bytes, roots: list[x509.Certificate], at: datetime) -> list[tuple[datetime | None, str]]:
    """pyHanko's AdES LTA validation (ETSI EN 319 102-1 5.6.3, the document time-stamps as the evidence
    record) of every signature of `pdf` judged at `at`: for each, the moment its document time-stamps prove it
    existed (None when their chain does not validate at `at`), and the signature's AdES result at that moment.

    Two steps because pyHanko 0.38 stops an LTA validation whose signer chain has an expired *intermediate*
    CA (CERTIFICATE_CHAIN_GENERAL_FAILURE, not one of the indications it continues from), even when the
    document time-stamps hold: so the evidence record is judged at `at`, and the signature at the moment the
    evidence record proves."""
    proofs = _ades_lta(pdf, roots, at)
    return [(proved, _ades_lta(pdf, roots, proved)[index][1] if proved is not None else "no proof of existence")
            for index, (proved, _status) in enumerate(proofs)]


def _ades_lta(pdf: bytes, roots: list[x509.Certificate], at: datetime) -> list[tuple[datetime | None, str]]:
    spec = _ades_spec([_asn1(root) for root in roots])
    signature_spec = spec.signature_validation_spec
    policy = signature_spec.cert_validation_policy
    # A time-stamp's chain is judged with the CRLs the PDF carries (PAdES B-LTA puts them in the DSS before
    # the next time-stamp); the newest one's, which only a verifier at `at` could fetch, is not required.
    spec = dataclasses.replace(spec, signature_validation_spec=dataclasses.replace(
        signature_spec, ts_cert_validation_policy=dataclasses.replace(
            policy, revinfo_policy=CertRevTrustPolicy(RevocationCheckingPolicy(IF_DECLARED, IF_DECLARED)))))
    timing = ValidationTimingInfo(validation_time=at, best_signature_time=at, point_in_time_validation=True)
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    results: list[tuple[datetime | None, str]] = []
    with validator_clock(at):
        for embedded in reader.embedded_signatures:
            if embedded.sig_object.get("/Type") == "/DocTimeStamp":
                continue
            # Off the event loop a browser test of the same worker may leave running (pyHanko runs its own).
            result = off_event_loop(lambda signature=embedded: asyncio.run(
                ades_lta_validation(signature, spec, timing_info=timing)))
            results.append((result.oldest_evidence_record_timestamp, result.ades_subindic.status.name))
    return results


@pytest.mark.req("LTV")
def test_a_pdf_whose_document_timestamp_is_due_gets_an_audited_appended_one_and_a_second_run_adds_nothing(
        services):
    store = PkiStore.for_settings(services.settings)
    start = utc_now()
    before = final_pdfs(services)
    assert len(before) >= 2
    assert run(services).added == 0, "today nothing is due: the time-stamps' chains run for years"

    renew_tsa(store, services.settings.organisation, now=start + 8 * YEAR + timedelta(days=200), kdf_iterations=1000)
    first = run(services, now=start + 9 * YEAR + timedelta(days=100))
    second = run(services, now=start + 9 * YEAR + timedelta(days=101))

    assert (first.examined, first.added) == (len(before), len(before))
    assert (second.examined, second.added) == (len(before), 0)
    after = final_pdfs(services)
    for version_id, pdf in after.items():
        assert pdf.startswith(before[version_id]), "an incremental update: no earlier byte rewritten"
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        stamps = [embedded for embedded in reader.embedded_signatures
                  if embedded.sig_object.get("/Type") == "/DocTimeStamp"]
        assert len(stamps) == 2
        assert newest_document_timestamp(pdf).tsa == store.certificate("tsa"), "made by the renewed TSA"
    with command(services.sessions) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "document.pdf_revision")
                                 .order_by(AuditEvent.seq)).all()[-len(before):]
        for event in events:
            change = json.loads(event.changes)["signed_pdf"]
            assert change["new"]["kind"] == STAMP_REVISION and change["old"]["revision"] + 1 == change["new"]["revision"]
            assert event.reason.startswith("archive document time-stamp: the certificate chain of")
            assert event.actor_name
        for version_id in after:
            revisions = pdf_revisions(session, session.get(dm.DocumentVersion, version_id))
            assert [revision.kind for revision in revisions][-2:] == [STAMP_REVISION, STAMP_REVISION]


@pytest.mark.req("LTV")
def test_a_signed_pdf_validates_in_2056_across_a_tsa_renewal_and_a_root_rollover_and_fails_without(services):
    store = PkiStore.for_settings(services.settings)
    organisation = services.settings.organisation
    start = utc_now()
    roots_today = list(store.trust_anchors().roots)
    without = final_pdfs(services)
    # Every final PDF is archived; the one with the most signatures is judged (pyHanko's AdES validation
    # takes about a second a signature).
    sample = max(without, key=lambda version_id: len(without[version_id]))
    judged_today = judged_at(without[sample], roots_today, start + timedelta(hours=1))
    assert len(judged_today) >= 2 and {status for _proved, status in judged_today} == {"PASSED"}, "valid today"

    renew_tsa(store, organisation, now=start + 8 * YEAR + timedelta(days=200), kdf_iterations=1000)
    assert run(services, now=start + 9 * YEAR + timedelta(days=100)).added == len(without)
    rollover_root(store, organisation, now=start + 13 * YEAR, kdf_iterations=1000)
    assert run(services, now=start + 15 * YEAR).added == 0  # nothing due yet
    assert run(services, now=start + 18 * YEAR).added == len(without)
    renew_tsa(store, organisation, now=start + 22 * YEAR + timedelta(days=200), kdf_iterations=1000)
    assert run(services, now=start + 22 * YEAR + timedelta(days=201)).added == len(without)

    judged = start + 30 * YEAR
    roots = list(store.trust_anchors().roots)
    assert len(roots) == 2 and roots[1].not_valid_after_utc < judged, "the first root has long expired"
    archived = judged_at(final_pdfs(services)[sample], roots, judged)
    assert len(archived) == len(judged_today)
    assert all(proved is not None and proved < start + timedelta(hours=1) and status == "PASSED"
               for proved, status in archived), archived
    assert all(proved is None for proved, _status in judged_at(without[sample], roots, judged)), \
        "without the archive document time-stamps nothing proves the PDF existed before its chains expired"


@pytest.mark.req("LTV")
def test_a_pdf_whose_newest_document_timestamp_has_already_expired_is_reported_and_left_unchanged(services):
    before = final_pdfs(services)
    [report] = archiving.archive_timestamps(
        services, None, AuditContext.system("edms archive-timestamps (test)"),
        archiving.ArchivePolicy(now=utc_now() + 11 * YEAR), archivers=(archiving.archive_signed_pdfs,))

    assert (report.examined, report.added, len(report.problems)) == (len(before), 0, len(before))
    assert all("too late to renew it" in problem for _item, problem in report.problems)
    assert final_pdfs(services) == before
