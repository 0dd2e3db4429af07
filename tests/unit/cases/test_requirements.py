"""The regime's tests read forwards (issue 12): what a record must say, shown and filled in before anyone
signs; decisions are shown but never filled in; "records relied on" widened to the regime's prerequisites."""
from __future__ import annotations

from pathlib import Path

import pytest

from edms.cases.regimes import CaseRecord, Regime, load_regimes
from edms.cases.regimes.requirements import accepted_references, record_requirements, unmet
from edms.documents.types import DocumentType, load_document_types, with_accepted_references

FORMS = Path(__file__).resolve().parents[3] / "forms"


@pytest.fixture(scope="module")
def types() -> dict[str, DocumentType]:
    return load_document_types(FORMS)


@pytest.fixture(scope="module")
def regimes(types) -> dict[str, Regime]:
    return load_regimes(FORMS / "regimes", types)


def test_decisions_are_marked_as_outcomes_in_every_shipped_regime(regimes):
    outcomes = {(d.type_key, t.field.name) for r in regimes.values() for d in r.documents for t in d.satisfied_when
                if t.outcome}
    assert ("informed_consent", "consent") in outcomes and ("qa_release", "release_decision") in outcomes
    assert ("physician_justification", "decision") in outcomes and ("ethics_approval", "decision") in outcomes
    requirements = {(d.type_key, t.field.name) for r in regimes.values() for d in r.documents
                    for t in d.satisfied_when if not t.outcome}
    assert ("ethics_approval", "review_type") in requirements and ("ethics_approval", "committee_type") in requirements
    assert ("waivable_items_list", "waivable_tests") in requirements


def test_what_the_record_is_is_filled_in_but_a_decision_never_is(regimes):
    by_field = {r.field.name: r for r in record_requirements(regimes["jp_current"], "ethics_approval", [])}
    assert by_field["review_type"].prefill == "protocol_approval"
    assert by_field["decision"].prefill is None
    assert "Protocol (clinical trial or expanded-access protocol)" in by_field["review_type"].text.en
    assert "治験実施計画書" in by_field["review_type"].text.ja
    assert "protocol_approval" not in by_field["review_type"].text.en + by_field["review_type"].text.ja


def test_the_waivable_items_must_hold_the_test_the_case_failed_even_while_its_notification_is_a_draft(regimes):
    draft_oos = CaseRecord("oos_notification", {"test": "viability"}, approved=False)
    [listed] = [r for r in record_requirements(regimes["jp_proposed"], "waivable_items_list", [draft_oos])
                if r.field.name == "waivable_tests"]
    assert listed.prefill == ["viability"]
    reasons = unmet([listed], {"waivable_tests": ["car_expression"]})
    assert "does not include Cell viability" in reasons["waivable_tests"].en
    assert "「細胞生存率」" in reasons["waivable_tests"].ja


def test_a_refusal_is_warned_about_but_not_counted_as_a_requirement_failure(regimes):
    requirements = record_requirements(regimes["jp_current"], "ethics_approval", [])
    values = {"review_type": "protocol_approval", "decision": "not_approved"}
    assert list(unmet(requirements, values)) == ["decision"]
    assert unmet(requirements, values, outcomes=False) == {}
    assert "does not let the case go on" in unmet(requirements, values)["decision"].en


def test_records_relied_on_accept_every_prerequisite_of_the_release_in_the_case(types, regimes):
    extra = accepted_references(regimes["jp_proposed"], "qa_release")
    assert {"ethics_approval", "supply_request", "waivable_items_list"} <= set(extra)
    release = with_accepted_references(types["qa_release"], extra, types)
    relies_on = release.field("relies_on")
    assert "ethics_approval" in relies_on.ref_types
    assert release.validate({"relies_on": "ETH-2026-0003"}).errors.get("relies_on") is None
    # A reference field naming one record (the justification's OOS notification) is never widened.
    justification = with_accepted_references(types["physician_justification"], ("waivable_items_list",), types)
    assert justification.field("oos_notification").ref_types == ("oos_notification",)
