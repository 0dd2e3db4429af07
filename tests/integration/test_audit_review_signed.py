"""The periodic audit-trail review ends with the reviewer's signature and QA's approval (ER/ES, Annex 11 §9)."""
import pytest

from edms.db import transaction
from edms.documents.operations import create_document, submit
from edms.signatures import verification
from edms.signatures.presentation import current_trust
from edms.users.models import User
from tests.integration.signing_fixtures import context

REVIEW = {
    "first_event": "1", "last_event": "40", "period_from": "2026-10-01", "period_to": "2026-10-31",
    "verification_result": "verified",
    "findings": "No unexplained changes; three failed sign-ins by kenji.sato on 2026-10-14 followed by a successful one.",
    "actions": "None required.",
}


@pytest.mark.req("ERES-authenticity")
@pytest.mark.req("A11-9")
def test_a_periodic_audit_trail_review_is_signed_by_the_reviewer_and_approved_by_qa(app, signing, client):
    services = app.extensions["edms"]
    review_type = services.document_types["audit_trail_review"]
    for person in (signing.reviewer, signing.approver):
        signing.train(person, "qa", document_type="audit_trail_review")
    with transaction(services.sessions) as session:
        reviewer = session.get(User, signing.reviewer.id)
        document = create_document(session, context(reviewer), reviewer, review_type,
                                   title="Audit trail review, October 2026", raw_values=dict(REVIEW))
        submit(session, context(reviewer), reviewer, document)
        document_id = document.id
    signing.sign(signing.reviewer, document_id=document_id)
    signing.sign(signing.approver, document_id=document_id)
    assert signing.document(document_id).status == "approved"
    made = signing.signatures(document_id)
    assert [s.meaning for s in made] == ["reviewed", "approved"]
    with services.sessions() as session:
        trust = current_trust(session, services.settings)
        assert all(verification.verify_stored(session, signature, trust).ok for signature in made)
    # QA reaches the signed-review record from the audit-trail review page.
    from tests.conftest import sign_in

    sign_in(client, "akiko.tanaka")
    assert 'id="signed-review"' in client.get("/audit/reviews").get_data(as_text=True)
