"""Routing of signing steps: sequence (21 CFR 11.10(f)), authority (11.10(g)), parallel and any-one-of
steps, named people and their delegates, segregation of duties."""
import pytest

from edms.documents.types import LocalizedText, SignatureStep
from edms.workflow import routing
from edms.workflow.refusals import AuthorityRefused, SequenceRefused


def step(name, *roles, meaning="reviewed", after=None, **options):
    return SignatureStep(name, roles, meaning, LocalizedText(name.replace("_", " ").capitalize(), name),
                         after=tuple(after or ()), **options)


AUTHORED = step("qc_author", "author", meaning="authored")
REVIEWED = step("qa_review", "qa", after=["qc_author"])
APPROVED = step("qa_approval", "qa", meaning="approved", after=["qa_review"])
OOS = (AUTHORED, REVIEWED, APPROVED)
# A deviation report: QA's review and the regulatory reportability assessment in parallel, then approval.
DEVIATION = (
    step("author", "author", meaning="authored"),
    step("qa_review", "qa", after=["author"]),
    step("regulatory_assessment", "regulatory", after=["author"]),
    step("qa_approval", "qa", meaning="approved", after=["qa_review", "regulatory_assessment"]),
)
KENJI, AKIKO, HIROSHI, NAOKO, YUKI, LUKAS = 1, 2, 3, 4, 5, 6
DR_MORI = routing.NamedPerson(YUKI, "Dr Yuki Mori")


def signer(user_id, *roles, author=False, acting_for=None):
    return routing.Signer(user_id, frozenset(roles), author, acting_for or {})


def signed(*pairs):
    return [routing.StepSignature(name, who) for name, who in pairs]


def due_names(steps, signatures):
    return [item.step.name for item in routing.due_steps(steps, signatures)]


@pytest.mark.req("11.10(f)")
def test_serial_steps_fall_due_one_after_the_other():
    assert due_names(OOS, []) == ["qc_author"]
    assert due_names(OOS, signed(("qc_author", KENJI))) == ["qa_review"]
    assert due_names(OOS, signed(("qc_author", KENJI), ("qa_review", AKIKO))) == ["qa_approval"]
    done = signed(("qc_author", KENJI), ("qa_review", AKIKO), ("qa_approval", HIROSHI))
    assert due_names(OOS, done) == [] and routing.is_complete(OOS, done)


@pytest.mark.req("11.10(f)")
def test_parallel_steps_are_due_together_and_may_be_signed_in_either_order():
    after_author = signed(("author", KENJI))
    assert due_names(DEVIATION, after_author) == ["qa_review", "regulatory_assessment"]
    regulatory_first = [*after_author, *signed(("regulatory_assessment", NAOKO))]
    assert due_names(DEVIATION, regulatory_first) == ["qa_review"]
    assert routing.resolve(DEVIATION, regulatory_first, step_name="qa_review").step.name == "qa_review"
    both = [*regulatory_first, *signed(("qa_review", AKIKO))]
    assert due_names(DEVIATION, both) == ["qa_approval"]


@pytest.mark.req("11.10(f)")
def test_a_step_after_parallel_steps_waits_for_all_of_them():
    only_qa = signed(("author", KENJI), ("qa_review", AKIKO))
    with pytest.raises(SequenceRefused, match="Qa approval is not due yet: Regulatory assessment must be signed first"):
        routing.resolve(DEVIATION, only_qa, step_name="qa_approval")


def test_without_a_step_named_the_signer_gets_the_open_step_they_may_sign():
    after_author = signed(("author", KENJI))
    assert routing.resolve(DEVIATION, after_author, signer=signer(NAOKO, "regulatory")).step.name == "regulatory_assessment"
    assert routing.resolve(DEVIATION, after_author, signer=signer(AKIKO, "qa")).step.name == "qa_review"


@pytest.mark.req("11.10(f)")
def test_approving_before_the_review_is_refused():
    with pytest.raises(SequenceRefused, match="Qa approval is not due yet: Qa review must be signed first"):
        routing.resolve(OOS, signed(("qc_author", KENJI)), meaning="approved")
    with pytest.raises(SequenceRefused, match="not due yet"):
        routing.resolve(OOS, [], step_name="qa_review")


@pytest.mark.req("11.10(f)")
def test_a_complete_step_or_a_complete_version_cannot_be_signed_again():
    done = signed(("qc_author", KENJI), ("qa_review", AKIKO))
    with pytest.raises(SequenceRefused, match="already complete"):
        routing.resolve(OOS, done, step_name="qa_review")
    with pytest.raises(SequenceRefused, match="nothing left to sign"):
        routing.resolve(OOS, [*done, *signed(("qa_approval", HIROSHI))])
    with pytest.raises(SequenceRefused, match="no signing step"):
        routing.resolve(OOS, done, step_name="qa_release")


@pytest.mark.req("11.10(g)")
def test_the_author_cannot_approve_their_own_document():
    states = routing.progress(OOS, signed(("qc_author", KENJI), ("qa_review", AKIKO)))
    problem = routing.authority_problem(states, states[2], signer(HIROSHI, "qa", author=True), {})
    assert isinstance(problem, AuthorityRefused) and "cannot approve" in str(problem)
    assert routing.authority_problem(states, states[2], signer(HIROSHI, "qa"), {}) is None


@pytest.mark.req("11.10(g)")
def test_one_person_cannot_sign_two_steps_unless_the_step_allows_it():
    states = routing.progress(OOS, signed(("qc_author", KENJI), ("qa_review", AKIKO)))
    problem = routing.authority_problem(states, states[2], signer(AKIKO, "qa"), {})
    assert isinstance(problem, AuthorityRefused) and "two of its steps" in str(problem)
    lenient = (AUTHORED, REVIEWED, step("qa_approval", "qa", meaning="approved", after=["qa_review"],
                                        allow_same_signer=True))
    states = routing.progress(lenient, signed(("qc_author", KENJI), ("qa_review", AKIKO)))
    assert routing.authority_problem(states, states[2], signer(AKIKO, "qa"), {}) is None


@pytest.mark.req("11.10(g)")
def test_a_step_needing_two_approvals_needs_two_different_people():
    dual = (AUTHORED, step("qa_approval", "qa", meaning="approved", after=["qc_author"], approvals=2))
    states = routing.progress(dual, signed(("qc_author", KENJI), ("qa_approval", HIROSHI)))
    assert not states[1].complete and states[1].remaining == 1 and states[1].due
    problem = routing.authority_problem(states, states[1], signer(HIROSHI, "qa"), {})
    assert isinstance(problem, AuthorityRefused) and "already signed" in str(problem)
    assert routing.authority_problem(states, states[1], signer(AKIKO, "qa"), {}) is None


@pytest.mark.req("11.10(g)")
def test_any_one_of_several_roles_may_sign_a_step_and_signs_in_the_role_they_hold():
    either = (AUTHORED, step("verification", "qa", "regulatory", meaning="verified", after=["qc_author"]))
    states = routing.progress(either, signed(("qc_author", KENJI)))
    assert routing.authority(states, states[1], signer(NAOKO, "regulatory"), {}).role == "regulatory"
    assert routing.authority(states, states[1], signer(AKIKO, "qa"), {}).role == "qa"
    problem = routing.authority_problem(states, states[1], signer(YUKI, "physician"), {})
    assert isinstance(problem, AuthorityRefused) and "qa / regulatory" in str(problem)


@pytest.mark.req("11.10(g)")
@pytest.mark.parametrize("roles, message", [
    (("admin",), "can never sign"),
    (("inspector",), "can never sign"),
    (("physician",), "Only holders of the role qa"),
])
def test_only_holders_of_the_steps_role_sign_and_never_administrators_or_inspectors(roles, message):
    states = routing.progress(OOS, signed(("qc_author", KENJI)))
    problem = routing.authority_problem(states, states[1], signer(9, *roles), {})
    assert isinstance(problem, AuthorityRefused) and message in str(problem)


JUSTIFICATION = (
    step("physician_author", "physician", meaning="authored", signer="case_physician"),
    step("physician_responsibility", "physician", meaning="responsibility", after=["physician_author"],
         signer="case_physician", allow_same_signer=True),
)


@pytest.mark.req("11.10(g)")
def test_a_named_step_is_signed_by_the_cases_physician_and_no_other_physician():
    states = routing.progress(JUSTIFICATION, [])
    named = {"case_physician": DR_MORI}
    assert routing.authority(states, states[0], signer(YUKI, "physician"), named) == routing.Authority("physician")
    problem = routing.authority_problem(states, states[0], signer(LUKAS, "physician"), named)
    assert isinstance(problem, AuthorityRefused) and "Only Dr Yuki Mori, or someone they delegated to" in str(problem)


@pytest.mark.req("11.10(g)")
def test_a_delegate_of_the_named_physician_signs_on_their_behalf():
    states = routing.progress(JUSTIFICATION, [])
    named = {"case_physician": DR_MORI}
    delegate = signer(LUKAS, "physician", acting_for={YUKI: frozenset({"physician"})})
    assert routing.authority(states, states[0], delegate, named) == routing.Authority("physician", DR_MORI)
    # A delegation of another role gives nothing here.
    other_role = signer(LUKAS, "physician", acting_for={YUKI: frozenset({"qa"})})
    assert routing.authority_problem(states, states[0], other_role, named) is not None


def test_a_named_step_outside_a_case_is_open_to_the_role_and_inside_a_case_needs_the_person_recorded():
    states = routing.progress(JUSTIFICATION, [])
    assert routing.authority(states, states[0], signer(LUKAS, "physician"), {}).on_behalf_of is None
    problem = routing.authority_problem(states, states[0], signer(LUKAS, "physician"), {"case_physician": None})
    assert isinstance(problem, AuthorityRefused) and "none is recorded yet" in str(problem)
