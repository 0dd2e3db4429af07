"""The document types the case regimes need beyond the first six: they load with English and Japanese
text, number without clashing, validate realistic records, and never offer a safety test as waivable."""
from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from edms.cases.regimes import SAFETY_TESTS
from edms.documents.types import SIGNATURE_MEANINGS, SIGNING_ROLES, DocumentType, load_document_types

FORMS = Path(__file__).resolve().parents[3] / "forms"

NEW = {
    "supply_request": "SUP-2026-0007",
    "physician_acceptance": "ACC-2026-0007",
    "ethics_approval": "ETH-2026-0007",
    "letter_of_authorization": "LOA-2026-0007",
    "fda_acknowledgement": "FDA-2026-0007",
    "safety_report": "AE-2026-0007",
    "waivable_items_list": "WAIV-2026-0007",
    "mah_agreement": "AGR-2026-0007",
}

# Realistic records of a tisa-cel-like lot failing viability (72 % against >= 80 %).
RECORDS: dict[str, dict[str, object]] = {
    "supply_request": {
        "patient_ref": "PT-7Q4X", "product": "tisagenlecleucel (CTL019)", "lot": "L2026-0412",
        "oos_notification": "OOS-2026-0007", "treating_site": "Universitätsklinikum Beispielstadt, Hämatologie",
        "reason": "Rapidly progressing DLBCL after two lines; no apheresis material left for re-manufacture.",
        "planned_administration": "2026-11-27", "risk_information_received": "yes",
        "requested_at": "2026-11-24T16:40+01:00",
    },
    "physician_acceptance": {
        "patient_ref": "PT-7Q4X", "lot": "L2026-0412", "supply_request": "SUP-2026-0003",
        "risk_evaluation": ["OOS-2026-0007"], "supplied_at_request_notified": True, "physician_name": "Dr. A. Weber",
        "acceptance": "accepted", "received_at": "2026-11-25T09:12+01:00", "received_as": "signed_in_edms",
    },
    "ethics_approval": {
        "committee_name": "Ethics Committee of Kyoto Example University Hospital",
        "committee_type": "institutional_ethics_committee", "committee_reference": "R-2026-118",
        "review_type": "full_review", "patient_ref": "PT-7Q4X", "submitted_at": "2026-11-20T10:00+09:00",
        "decision": "approved", "decision_date": "2026-11-24", "related_documents": "PJ-2026-0003, IC-2026-0004",
    },
    "letter_of_authorization": {
        "manufacturer": "Example Cell Therapies Inc.", "application_type": "bla", "application_number": "125646",
        "physician_name": "Dr. J. Rivera", "product": "tisagenlecleucel (CTL019)", "lot": "L2026-0412",
        "patient_ref": "PT-7Q4X", "authorized_information": "CMC information including the OOS viability result.",
        "issued_on": "2026-10-15",
    },
    "fda_acknowledgement": {
        "ind_number": "031744", "physician_name": "Dr. J. Rivera", "letter_of_authorization": "LOA-2026-0002",
        "emergency_telephone_authorization": "yes", "telephone_authorized_at": "2026-10-29T18:05-04:00",
        "fda_official": "CBER duty officer", "telephone_details": "Authorised single use; written 3926 to follow.",
    },
    "safety_report": {
        "patient_ref": "PT-7Q4X", "lot": "L2026-0412", "event_term": "Cytokine release syndrome, grade 3",
        "onset_date": "2026-12-01", "awareness_at": "2026-12-01T09:00-05:00", "serious": "yes",
        "seriousness_criteria": ["hospitalisation"], "fatal_or_life_threatening": "no", "expectedness": "unexpected",
        "causality": "suspected", "reporting_category": "fifteen_day", "report_to": ["fda", "ethics_committee"],
        "report_type": "initial", "narrative": "Fever and hypotension on day 2 after infusion; tocilizumab given.",
    },
    "waivable_items_list": {
        "product": "Example autologous CAR-T", "mah": "Example Regenerative KK",
        "evaluation_system": "QA and medical affairs assess each OOS lot under SOP QA-OOS-004.",
        "waivable_tests": ["viability", "viable_car_t_dose"],
        "acceptable_ranges": "Viability >= 60 % (specification >= 80 %).",
        "never_waived": "Sterility, endotoxin, mycoplasma, identity.", "notified_to_authority": "yes",
        "notified_on": "2026-04-01", "effective_from": "2026-04-15",
    },
    "mah_agreement": {
        "manufacturer": "Example Manufacturing GmbH", "manufacturing_authorisation": "DE_BY_01_MIA_2024_0042",
        "mah": "Example Pharma B.V.", "agreement_reference": "QAG-ATMP-017 v3", "effective_from": "2025-06-01",
        "covers_oos_supply": "yes", "importer": "none",
        "responsibilities": "Manufacturer evaluates risk; MAH informs EMA within 48 h.",
    },
}


@pytest.fixture(scope="module")
def types() -> dict[str, DocumentType]:
    return load_document_types(FORMS)


def test_the_new_types_load_with_english_and_japanese_text(types):
    assert set(NEW) <= set(types)
    for key in NEW:
        doc_type = types[key]
        assert doc_type.name.en and doc_type.name.ja and doc_type.description.en and doc_type.description.ja
        for field in doc_type.fields:
            assert field.label.en and field.label.ja, (key, field.name)
            if field.help is not None:
                assert field.help.en and field.help.ja, (key, field.name)
        for step in doc_type.steps:
            assert set(step.roles) <= set(SIGNING_ROLES) and step.meaning in SIGNATURE_MEANINGS


@pytest.mark.parametrize(("key", "expected"), sorted(NEW.items()))
def test_new_document_numbers_follow_their_pattern(types, key, expected):
    assert types[key].format_number(2026, 7) == expected
    others = [t for k, t in types.items() if k != key]
    assert not any(other.number_pattern.fullmatch(expected) for other in others)


@pytest.mark.parametrize("key", sorted(RECORDS))
def test_a_realistic_record_of_each_new_type_validates(types, key):
    result = types[key].validate(RECORDS[key], zone="Europe/Berlin")
    assert result.ok, result.errors


def test_clock_fields_are_typed_aware_utc_datetimes(types):
    report = types["safety_report"].validate(RECORDS["safety_report"]).values
    assert report["awareness_at"] == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    assert report["submitted_at"] is None
    assert report["serious"] is True and report["fatal_or_life_threatening"] is False
    ack = types["fda_acknowledgement"].validate(RECORDS["fda_acknowledgement"]).values
    assert ack["telephone_authorized_at"] == datetime(2026, 10, 29, 22, 5, tzinfo=UTC)
    assert ack["earlier_treatment_allowed"] is False  # an unticked box
    assert types["ethics_approval"].validate(RECORDS["ethics_approval"]).values["decision_date"] == date(2026, 11, 24)


def test_references_only_accept_the_named_record_types(types):
    acceptance = types["physician_acceptance"]
    bad = acceptance.validate({**RECORDS["physician_acceptance"], "supply_request": "OOS-2026-0007"})
    # Named by the type's label, never its key (issue 12).
    assert bad.errors["supply_request"] == (
        "Not the number of a record this field accepts (Physician's request for supply of an OOS lot): OOS-2026-0007.")


def test_safety_tests_are_never_offered_as_waivable(types):
    waivable = {choice.value for choice in types["waivable_items_list"].field("waivable_tests").choices}
    oos_tests = {choice.value for choice in types["oos_notification"].field("test").choices}
    assert not waivable & SAFETY_TESTS
    assert waivable <= oos_tests  # the same vocabulary, so a case's failed test can be looked up
    refused = types["waivable_items_list"].validate({**RECORDS["waivable_items_list"], "waivable_tests": ["sterility"]})
    assert "sterility" in refused.errors["waivable_tests"]


def test_no_new_type_declares_a_safety_flag(types):
    # A `safety = true` field answered yes blocks release; only the OOS notification may carry one.
    assert [f.name for key in NEW for f in types[key].fields if f.safety] == []
