"""Controlled document types are data: shipped definitions load, records validate field by field,
and a broken definition stops start-up with a message naming the file and the field."""
from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from edms.documents.types import (
    SIGNATURE_MEANINGS,
    SIGNING_ROLES,
    DefinitionError,
    DocumentType,
    canonical_value,
    load_document_types,
)
from tests.support.examples import VALUES

FORMS = Path(__file__).resolve().parents[3] / "forms"

SHIPPED = {
    "oos_notification": "OOS-2026-0007",
    "physician_justification": "PJ-2026-0007",
    "informed_consent": "IC-2026-0007",
    "deviation_report": "DEV-2026-0007",
    "qa_release": "REL-2026-0007",
    "regulatory_notification": "REG-2026-0007",
}

# A tisa-cel-like lot failing viability: 72 % against a release specification of >= 80 %; the safety flag
# answered as a form's radio buttons send it.
VIABILITY_OOS = dict(VALUES["oos_notification"], safety_test="no")


@pytest.fixture(scope="module")
def types() -> dict[str, DocumentType]:
    return load_document_types(FORMS)


@pytest.fixture(scope="module")
def oos(types: dict[str, DocumentType]) -> DocumentType:
    return types["oos_notification"]


def test_every_shipped_type_loads_with_english_and_japanese_text(types):
    assert set(SHIPPED) <= set(types)
    for doc_type in types.values():
        assert doc_type.name.en and doc_type.name.ja
        assert doc_type.description.en and doc_type.description.ja
        for field in doc_type.fields:
            assert field.label.en and field.label.ja, field.name
        for step in doc_type.steps:
            assert set(step.roles) <= set(SIGNING_ROLES) and step.meaning in SIGNATURE_MEANINGS
            assert step.label.en and step.label.ja
        assert len(doc_type.source_sha256) == 64


@pytest.mark.parametrize(("key", "expected"), sorted(SHIPPED.items()))
def test_document_numbers_follow_the_type_pattern(types, key, expected):
    number = types[key].format_number(2026, 7)
    assert number == expected
    assert types[key].number_pattern.fullmatch(number)


def test_sequence_numbers_start_at_one(oos):
    with pytest.raises(ValueError):
        oos.format_number(2026, 0)


def test_signature_steps_are_serial_unless_they_say_what_they_follow(types):
    oos = types["oos_notification"].steps
    assert [(s.roles, s.meaning, s.after) for s in oos] == [
        (("author",), "authored", ()),
        (("qa",), "reviewed", ("qc_author",)),
        (("qa",), "approved", ("qa_review",)),
    ]
    release = types["qa_release"].steps
    assert [(s.roles, s.meaning) for s in release] == [(("qa",), "reviewed"), (("qa",), "approved")]
    assert not any(step.allow_same_signer for step in release)  # two different QA people
    assert types["physician_justification"].steps[-1].meaning == "responsibility"
    deviation = {s.name: s.after for s in types["deviation_report"].steps}
    assert deviation["qa_review"] == deviation["regulatory_assessment"] == ("author",)  # parallel
    assert deviation["qa_approval"] == ("qa_review", "regulatory_assessment")


def test_a_step_may_be_signed_by_any_one_of_several_roles_or_by_the_cases_physician(types):
    verification = types["ethics_approval"].steps[-1]
    assert verification.roles == ("qa", "regulatory")
    assert {s.signer for s in types["physician_justification"].steps} == {"case_physician"}


def test_oos_result_is_a_safety_flag_only_where_declared(oos):
    assert [field.name for field in oos.fields if field.safety] == ["safety_test"]


def test_valid_oos_notification_is_accepted_with_typed_values(oos):
    result = oos.validate(VIABILITY_OOS)

    assert result.ok, result.errors
    assert result.values["result"] == Decimal("72.0")
    assert result.values["tested_on"] == date(2026, 11, 20)
    assert result.values["safety_test"] is False
    assert result.values["patient_ref"] == "PT-7Q4X"


def test_canonical_content_has_no_floats_and_keeps_the_reported_precision(oos):
    values = oos.validate(VIABILITY_OOS).values
    canonical = oos.canonical(values)

    assert canonical["result"] == "72.0"  # a decimal string, never the float 72.0
    assert canonical["tested_on"] == "2026-11-20"
    assert not any(isinstance(value, float) for value in canonical.values())
    json.dumps(canonical)  # storable as JSON as it is


def test_canonical_content_validates_back_to_the_same_values(oos):
    values = oos.validate(VIABILITY_OOS).values
    again = oos.validate(oos.canonical(values))
    assert again.ok and again.values == values


def test_missing_required_values_are_reported_per_field(oos):
    raw = dict(VIABILITY_OOS, lot="   ", result="")
    del raw["risk_assessment"]

    errors = oos.validate(raw).errors

    assert errors == {
        "lot": "This field is required.",
        "result": "This field is required.",
        "risk_assessment": "This field is required.",
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("lot", "l2026/0412", "not in the expected format (example: L2026-0412)"),
        ("patient_ref", "Taro Yamada", "not in the expected format (example: PT-7Q4X)"),
        ("result", "seventy-two", "is not a number"),
        ("result", "-3", "Must be at least 0"),
        ("result", "NaN", "finite number"),
        ("test", "viabilty", "is not one of: CAR-positive viable T-cell dose, Cell viability"),
        ("safety_test", "maybe", "is not yes or no"),
        ("tested_on", "20/11/2026", "not a date in the form YYYY-MM-DD"),
        ("tested_on", "2026-02-30", "not a date in the form YYYY-MM-DD"),
        ("product", "tisagenlecleucel\x07", "control characters"),
        ("product", "x" * 121, "At most 120 characters are allowed (got 121)"),
        ("method", ["flow cytometry", "ELISA"], "Only one value is allowed"),
    ],
)
def test_bad_values_give_a_clear_error_on_that_field_only(oos, field, value, message):
    errors = oos.validate(dict(VIABILITY_OOS, **{field: value})).errors
    assert list(errors) == [field]
    assert message in errors[field]


def test_unknown_fields_are_refused(oos):
    errors = oos.validate(dict(VIABILITY_OOS, patient_name="Taro Yamada")).errors
    assert "patient_name" in errors and "has no field" in errors["patient_name"]


def test_html_form_values_are_understood(types):
    # What MultiDict.to_dict(flat=False) gives: every value a list of strings.
    raw = {key: [value] for key, value in VIABILITY_OOS.items()}
    raw["safety_test"] = ["on"]
    result = types["oos_notification"].validate(raw)
    assert result.ok, result.errors
    assert result.values["safety_test"] is True


def test_json_numbers_are_accepted_without_float_rounding(oos):
    result = oos.validate(dict(VIABILITY_OOS, result=72.1, safety_test=False))
    assert result.ok and result.values["result"] == Decimal("72.1")


def test_notification_time_without_a_zone_is_refused_unless_the_entering_zone_is_known(types):
    reg = types["regulatory_notification"]
    raw = {
        "authority": "pmda",
        "jurisdiction": "JP",
        "what_notified": "Use of OOS lot L2026-0412 (viability 72 %) for patient PT-7Q4X.",
        "notified_at": "2026-11-25T21:06",
        "related_documents": "REL-2026-0002",
    }

    assert "time zone" in reg.validate(raw).errors["notified_at"]

    result = reg.validate(raw, zone="Asia/Tokyo")
    assert result.ok, result.errors
    assert result.values["notified_at"] == datetime(2026, 11, 25, 12, 6, tzinfo=UTC)
    assert reg.canonical(result.values)["notified_at"] == "2026-11-25T12:06:00.000000Z"


def test_notification_time_with_an_offset_is_kept_as_that_instant(types):
    reg = types["regulatory_notification"]
    result = reg.validate(
        {"authority": "fda", "jurisdiction": "US", "what_notified": "IND safety report",
         "notified_at": "2026-11-25T07:06:00-05:00"}
    )
    assert result.ok, result.errors
    assert result.values["notified_at"] == datetime(2026, 11, 25, 12, 6, tzinfo=UTC)
    assert result.values["related_documents"] == []


def test_release_may_rely_only_on_documents_of_the_declared_types(types):
    release = types["qa_release"]
    raw = {
        "lot": "L2026-0412",
        "oos_result": "Viability 72 % (specification ≥ 80 %)",
        "release_decision": "release",
    }

    ok = release.validate(dict(raw, relies_on="OOS-2026-0007, PJ-2026-0003\nIC-2026-0003 OOS-2026-0007"))
    assert ok.ok, ok.errors
    assert ok.values["relies_on"] == ["OOS-2026-0007", "PJ-2026-0003", "IC-2026-0003"]

    wrong = release.validate(dict(raw, relies_on=["OOS-2026-0007", "REG-2026-0001", "banana"]))
    assert wrong.errors["relies_on"].endswith(": REG-2026-0001, banana.")

    assert release.validate(dict(raw, relies_on=" , ")).errors["relies_on"] == "This field is required."


def test_optional_fields_may_be_left_empty(types):
    consent = types["informed_consent"]
    result = consent.validate(
        {
            "patient_ref": "PT-7Q4X",
            "information_given": "患者に生存率72%（規格80%以上）の規格外であること及びそのリスクを説明した。",
            "questions_answered": "再製造の可能性について質問があり、約6週間を要すると回答した。",
            "consent": "given",
            "consent_date": "2026-11-26",
            "witness_name": "",
        }
    )
    assert result.ok, result.errors
    assert result.values["witness_name"] is None and result.values["witness_role"] is None


# ---------------------------------------------------------------------------------------------------
# Definitions that must be refused

MINIMAL = """\
key = "lab_note"
numbering = "LN-{year}-{seq:04d}"
name = { en = "Lab note", ja = "試験室記録" }
description = { en = "A note.", ja = "記録。" }

[[fields]]
name = "lot"
type = "text"
label = { en = "Lot number", ja = "ロット番号" }

[[steps]]
name = "author"
role = "author"
meaning = "authored"
label = { en = "Prepared by", ja = "作成" }
"""


def write(directory: Path, text: str, name: str = "lab_note.toml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_definition_loads(tmp_path):
    write(tmp_path, MINIMAL)
    assert list(load_document_types(tmp_path)) == ["lab_note"]


def test_a_definition_changed_on_disk_is_read_afresh_and_an_unchanged_one_is_the_same_type(tmp_path):
    path = write(tmp_path, MINIMAL)
    first = load_document_types(tmp_path)["lab_note"]
    assert load_document_types(tmp_path)["lab_note"] == first
    path.write_text(MINIMAL.replace('ja = "ロット番号"', 'ja = "製造番号"'), encoding="utf-8")
    changed = load_document_types(tmp_path)["lab_note"]
    assert changed.field("lot").label.text("ja") == "製造番号" and changed.source_sha256 != first.source_sha256
    path.write_text(MINIMAL.replace('type = "text"', 'type = "txt"', 1), encoding="utf-8")
    with pytest.raises(DefinitionError):
        load_document_types(tmp_path)


def test_invalid_field_type_names_the_file_and_the_field_path(tmp_path):
    text = (FORMS / "oos_notification.toml").read_text(encoding="utf-8")
    broken = text.replace('name = "tested_on"\ntype = "date"', 'name = "tested_on"\ntype = "txt"')
    path = write(tmp_path, broken, "oos_notification.toml")

    with pytest.raises(DefinitionError) as caught:
        load_document_types(tmp_path)

    assert str(caught.value).startswith(
        f"{path}: fields[3].type: unknown field type 'txt' (expected one of text, textarea, number"
    )


@pytest.mark.parametrize(
    ("old", "new", "where", "message"),
    [
        ('type = "text"', 'type = "text"\ncolour = "red"', "fields[0].colour", "unknown key 'colour'"),
        ('key = "lab_note"', 'key = "lab_note"\nversion = 2', "version", "unknown key 'version'"),
        (
            "[[steps]]",
            '[[fields]]\nname = "lot"\ntype = "date"\nlabel = { en = "Lot", ja = "ロット" }\n\n[[steps]]',
            "fields[1].name",
            "duplicate field name 'lot'",
        ),
        ("{year}-{seq:04d}", "{yr}-{seq:04d}", "numbering", "'{yr}' is not allowed"),
        ("LN-{year}-{seq:04d}", "LN-{year}", "numbering", "must contain {seq}"),
        ("LN-{year}-{seq:04d}", "{seq:04d}", "numbering", "must start with a fixed prefix"),
        ("{seq:04d}", "{seq:.2f}", "numbering", "only integer formats"),
        ('role = "author"', 'role = "manager"', "steps[0].role", "unknown role 'manager' (expected one of author, qa"),
        ('meaning = "authored"', 'meaning = "signed"', "steps[0].meaning", "unknown meaning 'signed'"),
        ('ja = "ロット番号"', 'jp = "ロット番号"', "fields[0].label.ja", "missing (required)"),
        ('type = "text"', 'type = "text"\npattern = "L[0-9"\nexample = "L1"', "fields[0].pattern",
         "not a valid regular expression"),
        ('type = "text"', 'type = "text"\npattern = "L[0-9]{4}"\nexample = "X1"', "fields[0].example", "does not match"),
        ('type = "text"', 'type = "text"\npattern = "L[0-9]{4}"', "fields[0].example", "needs an example"),
        ('type = "text"', 'type = "text"\nmin = 0', "fields[0].min", "does not apply to a text field"),
        ('type = "text"', 'type = "choice"', "fields[0].choices", "missing (required)"),
        ('type = "text"', 'type = "text"\nrequired = "yes"', "fields[0].required", "expected true or false"),
        ('type = "text"', 'type = "number"\nmin = 10\nmax = 1', "fields[0].min", "greater than max"),
        ('type = "text"', 'type = "document_refs"\nref_types = ["nonesuch"]', "fields[0].ref_types[0]", "unknown document type"),
        ('name = "author"', 'name = "Author Step"', "steps[0].name", "must be lower-case"),
        ('role = "author"', 'role = "author"\nroles = ["qa"]', "steps[0].role", "either role or roles"),
        ('role = "author"', 'roles = []', "steps[0].roles", "at least one role"),
        ('role = "author"', 'roles = ["qa", "qa"]', "steps[0].roles", "names a role twice"),
        ('role = "author"', 'role = "author"\nafter = ["approval"]', "steps[0].after[0]", "not a step defined before"),
        ('role = "author"', 'role = "author"\nsigner = "the_boss"', "steps[0].signer", "unknown signer 'the_boss'"),
    ],
)
def test_invalid_definitions_are_refused_with_file_and_path(tmp_path, old, new, where, message):
    assert old in MINIMAL
    path = write(tmp_path, MINIMAL.replace(old, new, 1))

    with pytest.raises(DefinitionError) as caught:
        load_document_types(tmp_path)

    assert str(caught.value).startswith(f"{path}: {where}: ")
    assert message in str(caught.value)


def test_duplicate_choice_values_are_refused(tmp_path):
    choices = (
        'type = "choice"\nchoices = [\n'
        '  { value = "a", label = { en = "A", ja = "あ" } },\n'
        '  { value = "a", label = { en = "A2", ja = "あ2" } },\n]'
    )
    path = write(tmp_path, MINIMAL.replace('type = "text"', choices))
    with pytest.raises(DefinitionError) as caught:
        load_document_types(tmp_path)
    assert str(caught.value) == f"{path}: fields[0].choices[1].value: duplicate choice value 'a'"


def test_toml_syntax_errors_name_the_file(tmp_path):
    path = write(tmp_path, MINIMAL.replace('key = "lab_note"', "key = lab_note"))
    with pytest.raises(DefinitionError, match=f"^{re.escape(str(path))}: not valid UTF-8 TOML"):
        load_document_types(tmp_path)


def test_duplicate_type_keys_are_refused(tmp_path):
    write(tmp_path, MINIMAL, "a_note.toml")
    second = write(tmp_path, MINIMAL.replace("LN-", "LB-"), "b_note.toml")
    with pytest.raises(DefinitionError, match=f"^{re.escape(str(second))}: key: duplicate document type key 'lab_note'"):
        load_document_types(tmp_path)


def test_numbering_that_could_be_confused_with_another_type_is_refused(tmp_path):
    write(tmp_path, MINIMAL, "a_note.toml")
    second = write(tmp_path, MINIMAL.replace('"lab_note"', '"lab_record"'), "b_note.toml")
    with pytest.raises(DefinitionError, match=f"^{re.escape(str(second))}: numbering: .* overlaps"):
        load_document_types(tmp_path)


def test_an_empty_forms_directory_is_an_error(tmp_path):
    with pytest.raises(DefinitionError, match="no document type definitions"):
        load_document_types(tmp_path)


def test_integer_and_multichoice_fields(tmp_path):
    extra = """
[[fields]]
name = "bags"
type = "integer"
min = 1
max = 4
unit = "bags"
label = { en = "Infusion bags", ja = "輸注バッグ数" }

[[fields]]
name = "tests_repeated"
type = "multichoice"
label = { en = "Tests repeated", ja = "再試験項目" }
choices = [
    { value = "viability", label = { en = "Viability", ja = "生存率" } },
    { value = "sterility", label = { en = "Sterility", ja = "無菌試験" } },
]
"""
    write(tmp_path, MINIMAL.replace("[[steps]]", extra + "\n[[steps]]"))
    note = load_document_types(tmp_path)["lab_note"]

    good = note.validate({"bags": "2", "tests_repeated": ["sterility", "viability", "sterility"]})
    assert good.ok, good.errors
    assert good.values["bags"] == 2
    assert good.values["tests_repeated"] == ["viability", "sterility"]  # definition order, no duplicates
    assert canonical_value(note.field("bags"), good.values["bags"]) == 2

    bad = note.validate({"bags": "5", "tests_repeated": ["potency"]})
    assert bad.errors["bags"] == "Must be at most 4 bags."
    assert "Not a valid choice: potency" in bad.errors["tests_repeated"]
    assert "whole number" in note.validate({"bags": "2.5"}).errors["bags"]
