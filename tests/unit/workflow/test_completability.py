"""Routing never dead-ends silently: whether every remaining step of a version can still be completed by
the people active and ready now, under separation of duties, and if not, which step, why, who is missing
and what would unblock it (issue 12)."""
import pytest

from edms.documents.types import LocalizedText, SignatureStep
from edms.workflow import completability as c
from edms.workflow import routing


def step(name, *roles, meaning="reviewed", after=None, **options):
    return SignatureStep(name, roles, meaning, LocalizedText(name.replace("_", " ").capitalize(), name),
                         after=tuple(after or ()), **options)


# The QA release decision: written and reviewed by QA, approved by a second QA person.
RELEASE = (step("qa_review", "qa"), step("qa_approval", "qa", meaning="approved", after=["qa_review"]))
OOS = (step("qc_author", "author", meaning="authored"), step("qa_review", "qa", after=["qc_author"]),
       step("qa_approval", "qa", meaning="approved", after=["qa_review"]))
CONSENT = (step("physician_author", "physician", meaning="authored", signer="case_physician"),
           step("physician_responsibility", "physician", meaning="responsibility", signer="case_physician",
                after=["physician_author"], allow_same_signer=True))
KENJI, AKIKO, HIROSHI, YUKI, LUKAS = 1, 2, 3, 5, 6
DR_MORI = routing.NamedPerson(YUKI, "Dr Yuki Mori")
UNTRAINED = c.Reason(c.TRAINING, LocalizedText("no current training", "教育訓練なし"))
LOCKED = c.Reason(c.LOCKED, LocalizedText("the account is locked", "ロック"))
INACTIVE = c.Reason(c.INACTIVE, LocalizedText("the account is deactivated", "無効"))


def person(user_id, name, *roles, unready=None, acting_for=None):
    return c.Person(user_id, name, frozenset(roles), acting_for or {}, unready or {})


def signed(*pairs):
    return [routing.StepSignature(name, who) for name, who in pairs]


AKIKO_QA = person(AKIKO, "Akiko Tanaka", "qa")
HIROSHI_QA = person(HIROSHI, "Hiroshi Yamamoto", "qa")
KENJI_QC = person(KENJI, "Kenji Sato", "author")


def analyse(steps, signatures, people, *, authors=(), named=None):
    return c.analyse(steps, signatures, people, author_ids=frozenset(authors), named=named or {})


@pytest.mark.req("11.10(g)")
def test_a_qa_release_written_by_one_of_two_qa_people_and_reviewed_by_the_other_can_no_longer_be_approved():
    result = analyse(RELEASE, signed(("qa_review", HIROSHI)), [AKIKO_QA, HIROSHI_QA], authors=[AKIKO])
    assert result.stuck and result.blocked.step.name == "qa_approval"
    why = {o.printed_name: [r.code for r in o.reasons] for o in result.blocked.obstacles}
    assert why == {"Akiko Tanaka": [c.AUTHOR], "Hiroshi Yamamoto": [c.SIGNED_OTHER]}
    advice = [a.code for a in result.blocked.advice]
    assert c.GRANT in advice and c.REVISE in advice
    assert "Quality assurance" in result.blocked.missing.text.en and "品質保証" in result.blocked.missing.text.ja


def test_the_same_release_reviewed_by_its_author_can_still_be_approved_by_the_other():
    assert analyse(RELEASE, signed(("qa_review", AKIKO)), [AKIKO_QA, HIROSHI_QA], authors=[AKIKO]).completable


@pytest.mark.req("11.10(g)")
def test_a_release_whose_two_qa_people_include_its_author_is_completable_before_anyone_signs():
    # Akiko reviews her own release, Hiroshi approves it: the search finds that order.
    assert analyse(RELEASE, [], [AKIKO_QA, HIROSHI_QA], authors=[AKIKO]).completable


def test_a_release_with_a_single_qa_person_cannot_be_submitted_by_them():
    result = analyse(RELEASE, [], [AKIKO_QA], authors=[AKIKO])
    assert result.stuck and result.blocked.step.name == "qa_approval"


def test_an_untrained_approver_makes_the_oos_notification_stuck_and_training_would_unblock_it():
    hiroshi = person(HIROSHI, "Hiroshi Yamamoto", "qa", unready={"qa": (UNTRAINED,)})
    result = analyse(OOS, signed(("qc_author", KENJI), ("qa_review", AKIKO)), [KENJI_QC, AKIKO_QA, hiroshi],
                     authors=[KENJI])
    assert result.stuck and result.blocked.step.name == "qa_approval"
    assert [a.code for a in result.blocked.advice][:1] == [c.TRAIN]
    assert "Hiroshi Yamamoto" in result.blocked.advice[0].text.en


def test_a_locked_signer_is_not_counted_and_unlocking_is_advised():
    hiroshi = person(HIROSHI, "Hiroshi Yamamoto", "qa", unready={"qa": (LOCKED,)})
    result = analyse(OOS, signed(("qc_author", KENJI), ("qa_review", AKIKO)), [KENJI_QC, AKIKO_QA, hiroshi],
                     authors=[KENJI])
    assert result.stuck and c.UNLOCK in [a.code for a in result.blocked.advice]


def test_a_deactivated_signer_is_not_counted_and_another_signer_is_advised():
    hiroshi = person(HIROSHI, "Hiroshi Yamamoto", "qa", unready={"qa": (INACTIVE,)})
    result = analyse(OOS, signed(("qc_author", KENJI)), [KENJI_QC, AKIKO_QA, hiroshi], authors=[KENJI])
    # Akiko can review, but then nobody is left to approve.
    assert result.stuck and result.blocked.step.name == "qa_approval"
    assert c.GRANT in [a.code for a in result.blocked.advice]


def test_a_version_with_enough_people_for_every_step_is_completable():
    assert analyse(OOS, [], [KENJI_QC, AKIKO_QA, HIROSHI_QA], authors=[KENJI]).completable


def test_one_person_for_two_steps_that_forbid_it_is_a_dead_end_named_on_the_later_step():
    result = analyse(OOS, signed(("qc_author", KENJI)), [KENJI_QC, AKIKO_QA], authors=[KENJI])
    assert result.stuck and result.blocked.step.name == "qa_approval"


@pytest.mark.req("11.10(g)")
def test_a_named_physician_step_waits_for_that_physician_or_their_delegate():
    mori = person(YUKI, "Dr Yuki Mori", "physician", unready={"physician": (INACTIVE,)})
    weber = person(LUKAS, "Dr Lukas Weber", "physician")
    named = {"case_physician": DR_MORI}
    result = analyse(CONSENT, [], [mori, weber], authors=[YUKI], named=named)
    assert result.stuck and result.blocked.step.name == "physician_author"
    assert [o.printed_name for o in result.blocked.obstacles] == ["Dr Yuki Mori"]  # not every physician
    assert c.DELEGATE in [a.code for a in result.blocked.advice]
    # A live delegation to Dr Weber unblocks both steps (the type lets one physician sign both).
    delegate = person(LUKAS, "Dr Lukas Weber", "physician", acting_for={YUKI: frozenset({"physician"})})
    assert analyse(CONSENT, [], [mori, delegate], authors=[YUKI], named=named).completable


def test_a_named_step_without_a_recorded_physician_says_to_record_one():
    result = analyse(CONSENT, [], [person(LUKAS, "Dr Lukas Weber", "physician")], named={"case_physician": None})
    assert result.stuck and c.NAME_PHYSICIAN in [a.code for a in result.blocked.advice]


def test_the_summary_names_the_step_the_people_and_the_advice_in_both_languages():
    result = analyse(RELEASE, signed(("qa_review", HIROSHI)), [AKIKO_QA, HIROSHI_QA], authors=[AKIKO])
    text = c.summary(result.blocked)
    assert "Qa approval" in text.en and "Akiko Tanaka" in text.en and "Withdraw this version" in text.en
    assert "qa_approval" in text.ja and "取り下げ" in text.ja


def test_a_complete_version_is_completable():
    assert analyse(RELEASE, signed(("qa_review", AKIKO), ("qa_approval", HIROSHI)), [], authors=[AKIKO]).completable
