"""Case regimes are data: the shipped regimes load against the shipped document types, a broken regime
stops start-up with a message naming the file and the field, and the gates they define hold (11.10(f))."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edms.cases.regimes import (
    SAFETY_TESTS,
    CaseRecord,
    Regime,
    RegimeDocument,
    RegimeError,
    administration_blockers,
    checklist,
    default_regime,
    is_safety_test,
    load_regimes,
    resolve_anchors,
    resolve_conditions,
    safety_blockers,
    signing_blockers,
)
from edms.documents.types import SIGNATURE_MEANINGS, SIGNING_ROLES, DocumentType, load_document_types

ROOT = Path(__file__).resolve().parents[3]
FORMS = ROOT / "forms"
SHIPPED = ("eu", "us", "us_emergency", "us_protocol", "jp_current", "jp_proposed")


@pytest.fixture(scope="module")
def types() -> dict[str, DocumentType]:
    return load_document_types(FORMS)


@pytest.fixture(scope="module")
def regimes(types) -> dict[str, Regime]:
    return load_regimes(FORMS / "regimes", types)


def accepted(document: RegimeDocument, **values: object) -> CaseRecord:
    """An approved record of `document` that passes the regime's tests (values override)."""
    clean: dict[str, object] = {}
    for test in document.satisfied_when:
        if test.includes_all_of is not None:
            clean[test.field.name] = [choice.value for choice in test.field.choices]
        else:
            clean[test.field.name] = test.equals[0]
    clean.update(values)
    return CaseRecord(document.type_key, clean, approved=True)


def oos(test: str = "viability", **values: object) -> CaseRecord:
    return CaseRecord("oos_notification", {"test": test, "safety_test": is_safety_test(test), **values}, approved=True)


def everything_but_release(regime: Regime, test: str = "viability") -> list[CaseRecord]:
    return [oos(test)] + [
        accepted(document) for document in regime.documents
        if document.type_key not in ("oos_notification", regime.release)
    ]


# ---------------------------------------------------------------------------------------------------
# The shipped regimes


def test_every_shipped_regime_loads_against_the_shipped_document_types(regimes):
    assert sorted(regimes) == sorted(SHIPPED)
    for regime in regimes.values():
        assert regime.name.en and regime.name.ja and regime.description.en and regime.description.ja
        assert regime.source and len(regime.source_sha256) == 64
        for document in regime.documents:
            assert document.source, (regime.key, document.type_key)
            assert all(role in SIGNING_ROLES for role in document.roles)
            if not document.required:
                assert document.condition_text is not None and document.condition_text.ja
        for deadline in regime.deadlines:
            assert deadline.source and deadline.label.en and deadline.label.ja, (regime.key, deadline.key)


def test_each_jurisdiction_has_one_default_and_the_emergency_variant_is_explicit(regimes):
    assert default_regime(regimes, "EU").key == "eu"
    assert default_regime(regimes, "US").key == "us"
    assert default_regime(regimes, "JP").key == "jp_current"
    assert regimes["us_emergency"].variant_of == "us"
    assert not regimes["us_emergency"].default and not regimes["jp_proposed"].default


def test_signing_roles_come_from_the_document_type(regimes, types):
    acceptance = regimes["eu"].document("physician_acceptance")
    assert acceptance.document_type is types["physician_acceptance"]
    assert acceptance.roles == ("qa", "physician")
    assert all(step.meaning in SIGNATURE_MEANINGS for step in acceptance.document_type.steps)


@pytest.mark.req("11.10(f)")
@pytest.mark.parametrize("key", SHIPPED)
def test_release_waits_for_oos_notification_justification_and_consent_in_every_regime(regimes, key):
    regime = regimes[key]
    assert regime.document(regime.release).required
    assert {"oos_notification", "physician_justification", "informed_consent"} <= set(
        regime.document(regime.release).prerequisites
    )


@pytest.mark.parametrize("key", SHIPPED)
def test_every_assumption_is_listed_in_docs_regimes_md(regimes, key):
    text = (ROOT / "docs" / "regimes.md").read_text("utf-8")
    section = text.split(f"(`{key}`)\n", 1)[1].split("\n### ", 1)[0]
    listed = section.split("#### Assumptions", 1)[1]
    for step in regimes[key].assumptions:
        name = step.key if hasattr(step, "key") else step.type_key
        assert f"`{name}`" in listed, f"{key}: assumption {name} not listed in docs/regimes.md"
        assert step.note


def test_the_regimes_carry_the_clocks_of_the_issue(regimes):
    def clock(regime: str, key: str) -> tuple[str, str, str]:
        deadline = next(d for d in regimes[regime].deadlines if d.key == key)
        return deadline.anchor.text, str(deadline.offset), deadline.direction

    assert clock("eu", "ema_notified") == ("case.administration", "48 hours", "not_after")
    assert clock("us", "treatment_not_before_30_days") == (
        "fda_acknowledgement.fda_received_at", "30 calendar days", "not_before")
    assert clock("us_emergency", "irb_notified_5_working_days")[1:] == ("5 working days", "not_after")
    assert clock("us_emergency", "written_ind_15_working_days") == (
        "fda_acknowledgement.telephone_authorized_at", "15 working days", "not_after")
    assert clock("us", "ind_safety_report_7_days")[1] == "7 calendar days"
    assert clock("jp_current", "trial_safety_report_15_days")[1] == "15 calendar days"
    # Ethics approval before administration is a gate; the only clocks are the MAH's post-marketing reports.
    assert [clock("jp_proposed", key)[1:] for key in ("postmarketing_report_15_days", "postmarketing_report_30_days")] == [
        ("15 calendar days", "not_after"), ("30 calendar days", "not_after")]
    assert all(deadline.per_record for deadline in regimes["jp_proposed"].deadlines)
    assert "ethics_approval" in regimes["jp_proposed"].document("qa_release").prerequisites


# ---------------------------------------------------------------------------------------------------
# Gates


@pytest.mark.req("11.10(f)")
def test_qa_release_cannot_be_signed_until_its_prerequisites_are_approved(regimes):
    eu = regimes["eu"]
    conditions = {"manufacturer_is_not_mah": False}

    missing = {b.type_key for b in signing_blockers(eu, "qa_release", records=[], conditions=conditions)}
    assert {"oos_notification", "physician_justification", "informed_consent", "supply_request",
            "physician_acceptance", "deviation_report"} == missing

    records = everything_but_release(eu)
    draft_consent = CaseRecord("informed_consent", {"consent": "given"}, approved=False)
    without_consent = [r for r in records if r.type_key != "informed_consent"] + [draft_consent]
    blockers = signing_blockers(eu, "qa_release", records=without_consent, conditions=conditions)
    assert [b.type_key for b in blockers] == ["informed_consent"]
    assert blockers[0].roles == ("physician",)
    assert blockers[0].reason.en.startswith("Informed consent record (OOS lot) must be approved first")

    assert signing_blockers(eu, "qa_release", records=records, conditions=conditions) == []


@pytest.mark.req("11.10(f)")
def test_a_justification_cannot_be_signed_before_the_oos_notification(regimes):
    blockers = signing_blockers(regimes["jp_proposed"], "physician_justification", records=[], conditions={})
    assert [b.type_key for b in blockers] == ["oos_notification", "waivable_items_list"]  # nearest first
    assert blockers[0].roles == ("author",)


@pytest.mark.req("11.10(f)")
def test_an_approved_refusal_keeps_the_gate_closed_with_the_reason(regimes):
    us = regimes["us"]
    records = [r for r in everything_but_release(us) if r.type_key != "informed_consent"]
    records.append(CaseRecord("informed_consent", {"consent": "refused"}, approved=True))

    blockers = signing_blockers(us, "qa_release", records=records, conditions={})
    assert len(blockers) == 1
    assert blockers[0].reason.en == (
        "Informed consent record (OOS lot): Patient's decision is Consent refused (needed: Consent given)."
    )
    assert "同意しない" in blockers[0].reason.ja


@pytest.mark.req("11.10(f)")
def test_an_unanswered_condition_never_opens_a_gate(regimes):
    eu = regimes["eu"]
    records = [r for r in everything_but_release(eu) if r.type_key != "mah_agreement"]

    open_question = signing_blockers(eu, "qa_release", records=records, conditions={})
    assert [(b.type_key, b.roles) for b in open_question] == [("mah_agreement", ("qa",))]
    assert open_question[0].reason.en.startswith("Not answered yet: Are the manufacturer")

    differ = resolve_conditions(eu, answers={"manufacturer_is_not_mah": True}, records=records)
    needed = signing_blockers(eu, "qa_release", records=records, conditions=differ)
    assert [b.type_key for b in needed] == ["mah_agreement"]
    same = resolve_conditions(eu, answers={"manufacturer_is_not_mah": False}, records=records)
    assert signing_blockers(eu, "qa_release", records=records, conditions=same) == []


@pytest.mark.req("11.10(f)")
def test_emergency_release_needs_fdas_telephone_authorisation_not_irb_approval(regimes):
    emergency = regimes["us_emergency"]
    records = [r for r in everything_but_release(emergency) if r.type_key != "ethics_approval"]
    assert signing_blockers(emergency, "qa_release", records=records, conditions={}) == []

    written_only = [r for r in records if r.type_key != "fda_acknowledgement"]
    written_only.append(CaseRecord("fda_acknowledgement", {"emergency_telephone_authorization": False}, approved=True))
    assert [b.type_key for b in signing_blockers(emergency, "qa_release", records=written_only, conditions={})] == [
        "fda_acknowledgement"
    ]


def test_jp_proposed_release_needs_the_failed_test_on_the_waivable_list(regimes):
    proposed = regimes["jp_proposed"]
    records = [oos("car_expression")] + [
        accepted(d, waivable_tests=["viability"]) if d.type_key == "waivable_items_list" else accepted(d)
        for d in proposed.documents if d.type_key not in ("oos_notification", "qa_release")
    ]
    blockers = signing_blockers(proposed, "qa_release", records=records, conditions={})
    assert [b.type_key for b in blockers] == ["waivable_items_list"]
    assert "does not include CAR expression" in blockers[0].reason.en


def test_checklist_shows_what_is_missing_and_who_acts_next(regimes):
    items = checklist(regimes["eu"], records=[oos()], conditions={"manufacturer_is_not_mah": None})
    by_type = {item.document.type_key: item for item in items}
    assert by_type["oos_notification"].satisfied and by_type["oos_notification"].next_roles == ()
    assert by_type["supply_request"].next_roles == ("physician",) and not by_type["supply_request"].blockers
    assert by_type["mah_agreement"].applies is None
    assert by_type["physician_acceptance"].blockers[0].type_key == "supply_request"
    assert by_type["physician_acceptance"].next_roles == ("physician",)  # the request comes first
    assert by_type["qa_release"].next_roles == ("author", "physician", "qa")


# ---------------------------------------------------------------------------------------------------
# Safety specifications are never waived


@pytest.mark.parametrize("test_key", sorted(SAFETY_TESTS))
def test_safety_tests_are_the_three_of_the_issue(test_key):
    assert is_safety_test(test_key)
    assert not is_safety_test("viability")


@pytest.mark.req("11.10(f)")
@pytest.mark.parametrize("key", SHIPPED)
def test_an_oos_on_a_safety_test_blocks_release_in_every_regime(regimes, key):
    regime = regimes[key]
    answers = {c: False for c, condition in regime.conditions.items() if condition.asked_of}
    assert signing_blockers(regime, regime.release, records=everything_but_release(regime), conditions=answers) == []

    records = everything_but_release(regime, test="sterility")
    blockers = signing_blockers(regime, regime.release, records=records, conditions=answers)
    safety = [b for b in blockers if "never waived" in b.reason.en]
    assert len(safety) == 1
    assert "(Sterility)" in safety[0].reason.en and "無菌試験" in safety[0].reason.ja
    assert safety[0].roles == ()

    released = records + [accepted(regime.document(regime.release))]
    given = administration_blockers(regime, records=released, conditions=answers)
    assert any("never waived" in b.reason.en for b in given)


def test_a_product_specific_safety_flag_blocks_release_too(regimes):
    flagged = CaseRecord("oos_notification", {"test": "other", "safety_test": True}, approved=False)
    (blocker,) = safety_blockers(regimes["eu"], [flagged])
    assert "marked as a safety test" in blocker.reason.en


def test_administration_waits_for_a_release_decision_to_release(regimes):
    eu = regimes["eu"]
    rejected = everything_but_release(eu) + [CaseRecord("qa_release", {"release_decision": "reject"}, approved=True)]
    (blocker,) = administration_blockers(eu, records=rejected, conditions={})
    assert blocker.type_key == "qa_release" and "Reject" in blocker.reason.en


# ---------------------------------------------------------------------------------------------------
# Conditions and anchors from the case's records


def test_conditions_are_read_from_approved_records_only(regimes):
    us = regimes["us"]
    draft = CaseRecord("safety_report", {"reporting_category": "seven_day"}, approved=False)
    assert resolve_conditions(us, answers={}, records=[draft])["serious_unexpected"] is None

    report = CaseRecord("safety_report", {"reporting_category": "fifteen_day"}, approved=True)
    resolved = resolve_conditions(us, answers={"adverse_event": True}, records=[report])
    assert resolved["serious_unexpected"] is True
    assert resolved["unexpected_fatal_or_life_threatening"] is False
    assert resolved["adverse_event"] is True
    with pytest.raises(ValueError, match="asks no question serious_unexpected"):
        resolve_conditions(us, answers={"serious_unexpected": True}, records=[])


def test_clocks_start_from_drafts_but_are_met_only_by_approved_records(regimes):
    eu = regimes["eu"]
    given = datetime(2026, 10, 24, 8, tzinfo=UTC)
    to_ema = datetime(2026, 10, 25, 9, tzinfo=UTC)
    records = [
        CaseRecord("regulatory_notification", {"authority": "ema", "notified_at": to_ema}, approved=False),
        CaseRecord("regulatory_notification", {"authority": "national_competent_authority", "notified_at": to_ema},
                   approved=True),
    ]
    anchors = resolve_anchors(eu, case_dates={"administration": given}, records=records)
    assert anchors == {
        "case.administration": given,
        "case.supply": None,
        "regulatory_notification[authority=ema].notified_at": None,
        "regulatory_notification[authority=national_competent_authority].notified_at": to_ema,
        "regulatory_notification[authority=marketing_authorisation_holder].notified_at": None,
        "safety_report.awareness_at": None,
        "safety_report.submitted_at": None,
    }
    with pytest.raises(ValueError, match="naive"):
        resolve_anchors(eu, case_dates={"administration": datetime(2026, 10, 24, 8)}, records=[])
    with pytest.raises(ValueError, match="unknown case date"):
        resolve_anchors(eu, case_dates={"infusion": given}, records=[])


# ---------------------------------------------------------------------------------------------------
# Invalid definitions

MINIMAL = """\
key = "test"
jurisdiction = "EU"
default = true
release = "qa_release"
source = "Test source"
name = { en = "Test", ja = "テスト" }
description = { en = "Test regime", ja = "テスト制度" }

[retention]
period = "30 years"
from = "case.administration"
source = "R1"

[[conditions]]
key = "differ"
question = { en = "Do they differ?", ja = "異なりますか？" }
if_yes = { en = "Where they differ", ja = "異なる場合" }
asked_of = "qa"

[[documents]]
type = "oos_notification"
source = "S1"

[[documents]]
type = "physician_justification"
prerequisites = ["oos_notification"]
source = "S2"

[[documents]]
type = "mah_agreement"
applies_when = "differ"
source = "S3"

[[documents]]
type = "qa_release"
prerequisites = ["physician_justification", "mah_agreement"]
satisfied_when = [{ field = "release_decision", equals = "release" }]
source = "S4"

[[documents]]
type = "regulatory_notification"
prerequisites = ["qa_release"]
source = "S5"

[[deadlines]]
key = "told"
label = { en = "Told within 48 h", ja = "48時間以内に報告" }
anchor = "case.administration"
offset = "48 hours"
direction = "not_after"
met_by = "regulatory_notification[authority=ema].notified_at"
source = "S6"
"""


def write(directory: Path, text: str, name: str = "test.toml") -> Path:
    path = directory / name
    path.write_text(text, "utf-8")
    return path


def test_the_minimal_regime_loads(tmp_path, types):
    write(tmp_path, MINIMAL)
    regime = load_regimes(tmp_path, types)["test"]
    assert [d.type_key for d in regime.documents][-1] == "regulatory_notification"
    assert regime.deadlines[0].anchor.label.en == "Administration"
    assert regime.deadlines[0].met_by.label.en == "Notified at (Regulatory notification, EMA)"


@pytest.mark.parametrize(
    ("old", "new", "where", "message"),
    [
        ('source = "Test source"', 'source = "Test source"\ncolour = "red"', "colour", "unknown key 'colour'"),
        ('jurisdiction = "EU"', 'jurisdiction = "UK"', "jurisdiction", "unknown jurisdiction 'UK'"),
        ('type = "oos_notification"', 'type = "oos_report"', "documents[0].type", "unknown document type 'oos_report'"),
        ('prerequisites = ["oos_notification"]', 'prerequisites = ["deviation_report"]',
         "documents[1].prerequisites[0]", "'deviation_report' is not one of this regime's documents"),
        ('prerequisites = ["oos_notification"]', 'prerequisites = ["physician_justification"]',
         "documents[1].prerequisites[0]", "cannot be its own prerequisite"),
        ('source = "S1"', 'source = "S1"\nrequired = true', "documents[0].required", "unknown key 'required'"),
        ('source = "S2"\n', "", "documents[1].source", "missing (required)"),
        ('applies_when = "differ"', 'applies_when = "differs"', "documents[2].applies_when",
         "unknown condition 'differs'"),
        ('applies_when = "differ"', 'applies_unless = "differ"', "documents[2].applies_unless", "needs if_no"),
        ('equals = "release"', 'equals = "released"', "documents[3].satisfied_when[0].equals",
         "'released' is not a choice of 'release_decision'"),
        ('field = "release_decision"', 'field = "decision"', "documents[3].satisfied_when[0].field",
         "document type 'qa_release' has no field 'decision'"),
        ('offset = "48 hours"', 'offset = "48 hrs"', "deadlines[0].offset", "'48 hrs' is not a duration"),
        ('offset = "48 hours"', 'offset = "0 working days"', "deadlines[0].offset", "at least 1"),
        ('offset = "48 hours"', "offset = 48", "deadlines[0].offset", "expected a string"),
        ('direction = "not_after"', 'direction = "before"', "deadlines[0].direction", "unknown direction 'before'"),
        ('anchor = "case.administration"', 'anchor = "case.infusion"', "deadlines[0].anchor",
         "unknown case date 'infusion'"),
        ('anchor = "case.administration"', 'anchor = "oos_notification.tested_on"', "deadlines[0].anchor",
         "is a date field; a clock needs a datetime field"),
        ('anchor = "case.administration"', 'anchor = "deviation_report.detected_at"', "deadlines[0].anchor",
         "'deviation_report' is not one of this regime's documents"),
        ('anchor = "case.administration"', 'anchor = "administration"', "deadlines[0].anchor", "is not an anchor"),
        ("authority=ema", "authority=emea", "deadlines[0].met_by", "'emea' is not a choice"),
        ('met_by = "regulatory_notification[authority=ema].notified_at"', 'met_by = "case.administration"',
         "deadlines[0].met_by", "cannot be met by the moment it starts from"),
        ('source = "S6"', 'source = "S6"\nper_record = true', "deadlines[0].per_record",
         "must start from a record field"),
        ('source = "S6"', 'source = "S6"\nwarn_before = "1 working day"', "deadlines[0].warn_before", "elapsed time"),
        ('direction = "not_after"', 'direction = "not_before"\nwarn_before = "1 hour"', "deadlines[0].warn_before",
         "only to not_after"),
        ('source = "S6"', 'source = "S6"\nassumption = true', "deadlines[0].note", "needs a note"),
        ('release = "qa_release"', 'release = "mah_agreement"', "release", "cannot be conditional"),
        ('release = "qa_release"', 'release = "deviation_report"', "release", "not one of this regime's documents"),
        ('source = "Test source"', 'source = "Test source"\nholidays = ["2026-12-25"]', "holidays[0]",
         "expected a date such as 2026-12-25"),
        ('asked_of = "qa"', 'asked_of = "nurse"', "conditions[0].asked_of", "unknown role 'nurse'"),
        ('asked_of = "qa"', 'answered_by = "mah_agreement.covers_oos_supply"\nasked_of = "qa"',
         "conditions[0].asked_of", "exactly one of asked_of"),
        ('applies_when = "differ"\n', "", "conditions[0].key", "declared but never used"),
        ('ja = "テスト制度"', 'jp = "テスト制度"', "description.ja", "missing (required)"),
    ],
)
def test_invalid_regimes_are_refused_with_file_and_path(tmp_path, types, old, new, where, message):
    assert old in MINIMAL
    path = write(tmp_path, MINIMAL.replace(old, new, 1))

    with pytest.raises(RegimeError) as caught:
        load_regimes(tmp_path, types)

    assert str(caught.value).startswith(f"{path}: {where}: "), str(caught.value)
    assert message in str(caught.value)


@pytest.mark.req("11.10(f)")
def test_a_cycle_in_prerequisites_is_refused_naming_the_cycle(tmp_path, types):
    cyclic = MINIMAL.replace('source = "S1"', 'prerequisites = ["qa_release"]\nsource = "S1"', 1)
    path = write(tmp_path, cyclic)
    with pytest.raises(RegimeError) as caught:
        load_regimes(tmp_path, types)
    assert str(caught.value) == (
        f"{path}: documents[0].prerequisites: cycle in prerequisites: "
        "oos_notification → qa_release → physician_justification → oos_notification"
    )


def test_a_two_record_cycle_is_refused(tmp_path, types):
    cyclic = MINIMAL.replace('source = "S3"', 'prerequisites = ["qa_release"]\nsource = "S3"', 1)
    path = write(tmp_path, cyclic)
    with pytest.raises(RegimeError, match=f"^{re.escape(str(path))}: documents\\[2\\].prerequisites: cycle in "
                                          "prerequisites: mah_agreement → qa_release → mah_agreement$"):
        load_regimes(tmp_path, types)


def test_a_field_cannot_both_start_one_clock_and_stop_another(tmp_path, types):
    second = """
[[deadlines]]
key = "after_told"
label = { en = "After", ja = "後" }
anchor = "regulatory_notification[authority=ema].notified_at"
offset = "1 hour"
direction = "not_after"
met_by = "case.decision"
source = "S7"
"""
    path = write(tmp_path, MINIMAL + second)
    with pytest.raises(RegimeError) as caught:
        load_regimes(tmp_path, types)
    assert str(caught.value).startswith(f"{path}: deadlines[0].met_by: ")
    assert "is the start of deadline 'after_told'" in str(caught.value)


def test_cross_file_rules(tmp_path, types):
    write(tmp_path, MINIMAL, "a.toml")
    second = write(tmp_path, MINIMAL, "b.toml")
    with pytest.raises(RegimeError, match=f"^{re.escape(str(second))}: key: duplicate regime key 'test'"):
        load_regimes(tmp_path, types)

    write(tmp_path, MINIMAL.replace('key = "test"', 'key = "test_two"'), "b.toml")
    with pytest.raises(RegimeError, match="default: jurisdiction EU needs exactly one default regime \\(found 2\\)"):
        load_regimes(tmp_path, types)

    variant = MINIMAL.replace('key = "test"', 'key = "test_two"').replace("default = true", 'variant_of = "tset"')
    write(tmp_path, variant, "b.toml")
    with pytest.raises(RegimeError, match=f"^{re.escape(str(second))}: variant_of: 'tset' is not a base regime"):
        load_regimes(tmp_path, types)


def test_an_empty_directory_and_broken_toml_are_errors(tmp_path, types):
    with pytest.raises(RegimeError, match="no regime definitions"):
        load_regimes(tmp_path, types)
    path = write(tmp_path, MINIMAL.replace('key = "test"', "key = test"))
    with pytest.raises(RegimeError, match=f"^{re.escape(str(path))}: not valid UTF-8 TOML"):
        load_regimes(tmp_path, types)
