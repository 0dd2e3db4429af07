"""Serial signing steps from the document type: sequence (21 CFR 11.10(f)) and authority (11.10(g))."""
import pytest

from edms.documents.types import LocalizedText, SignatureStep
from edms.signatures import steps
from edms.signatures.errors import AuthorityRefused, SequenceRefused

AUTHORED = SignatureStep("qc_author", "author", "authored", LocalizedText("Prepared by QC", "品質管理部門 作成"))
REVIEWED = SignatureStep("qa_review", "qa", "reviewed", LocalizedText("Reviewed by QA", "品質保証部門 照査"))
APPROVED = SignatureStep("qa_approval", "qa", "approved", LocalizedText("Approved by QA", "品質保証部門 承認"))
OOS = (AUTHORED, REVIEWED, APPROVED)
KENJI, AKIKO, HIROSHI = 1, 2, 3


def signer(user_id, *roles, author=False):
    return steps.Signer(user_id, frozenset(roles), author)


def signed(*pairs):
    return [steps.StepSignature(step, who) for step, who in pairs]


@pytest.mark.req("11.10(f)")
def test_steps_fall_due_in_definition_order():
    assert steps.due(OOS, []).step is AUTHORED
    assert steps.due(OOS, signed(("qc_author", KENJI))).step is REVIEWED
    assert steps.due(OOS, signed(("qc_author", KENJI), ("qa_review", AKIKO))).step is APPROVED
    assert steps.due(OOS, signed(("qc_author", KENJI), ("qa_review", AKIKO), ("qa_approval", HIROSHI))) is None


@pytest.mark.req("11.10(f)")
def test_approving_before_the_review_is_refused():
    with pytest.raises(SequenceRefused, match="Approved by QA is not due yet: Reviewed by QA must be signed first"):
        steps.resolve(OOS, signed(("qc_author", KENJI)), meaning="approved")
    with pytest.raises(SequenceRefused, match="not due yet"):
        steps.resolve(OOS, [], step_name="qa_review")


@pytest.mark.req("11.10(f)")
def test_a_complete_step_or_a_complete_version_cannot_be_signed_again():
    done = signed(("qc_author", KENJI), ("qa_review", AKIKO))
    with pytest.raises(SequenceRefused, match="already complete"):
        steps.resolve(OOS, done, step_name="qa_review")
    with pytest.raises(SequenceRefused, match="nothing left to sign"):
        steps.resolve(OOS, [*done, *signed(("qa_approval", HIROSHI))])
    with pytest.raises(SequenceRefused, match="no signing step"):
        steps.resolve(OOS, done, step_name="qa_release")


@pytest.mark.req("11.10(g)")
def test_the_author_cannot_approve_their_own_document():
    states = steps.progress(OOS, signed(("qc_author", KENJI), ("qa_review", AKIKO)))
    problem = steps.authority_problem(states, states[2], signer(HIROSHI, "qa", author=True))
    assert isinstance(problem, AuthorityRefused) and "cannot approve" in str(problem)
    assert steps.authority_problem(states, states[2], signer(HIROSHI, "qa")) is None


@pytest.mark.req("11.10(g)")
def test_one_person_cannot_sign_two_steps_unless_the_step_allows_it():
    states = steps.progress(OOS, signed(("qc_author", KENJI), ("qa_review", AKIKO)))
    problem = steps.authority_problem(states, states[2], signer(AKIKO, "qa"))
    assert isinstance(problem, AuthorityRefused) and "two of its steps" in str(problem)
    lenient = (AUTHORED, REVIEWED, SignatureStep("qa_approval", "qa", "approved", APPROVED.label, allow_same_signer=True))
    states = steps.progress(lenient, signed(("qc_author", KENJI), ("qa_review", AKIKO)))
    assert steps.authority_problem(states, states[2], signer(AKIKO, "qa")) is None


@pytest.mark.req("11.10(g)")
def test_a_step_needing_two_approvals_needs_two_different_people():
    dual = (AUTHORED, SignatureStep("qa_approval", "qa", "approved", APPROVED.label, approvals=2))
    states = steps.progress(dual, signed(("qc_author", KENJI), ("qa_approval", HIROSHI)))
    assert not states[1].complete and states[1].remaining == 1
    problem = steps.authority_problem(states, states[1], signer(HIROSHI, "qa"))
    assert isinstance(problem, AuthorityRefused) and "already signed" in str(problem)
    assert steps.authority_problem(states, states[1], signer(AKIKO, "qa")) is None


@pytest.mark.req("11.10(g)")
@pytest.mark.parametrize("roles, message", [
    (("admin",), "can never sign"),
    (("inspector",), "can never sign"),
    (("physician",), "Only holders of the role qa"),
])
def test_only_holders_of_the_steps_role_sign_and_never_administrators_or_inspectors(roles, message):
    states = steps.progress(OOS, signed(("qc_author", KENJI)))
    problem = steps.authority_problem(states, states[1], signer(9, *roles))
    assert isinstance(problem, AuthorityRefused) and message in str(problem)
