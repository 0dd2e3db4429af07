"""Values a fuzzer sends: numbers bounded by digits as the type defines, text without control,
bidirectional or invisible characters, times that exist in UTC (EU Annex 11 §5, 21 CFR 11.10(a))."""
from __future__ import annotations

from pathlib import Path

import pytest

from edms.documents.types import DefinitionError, load_document_types
from edms.plaintext import UnsafeText, check_text, clean_line
from tests.support.examples import VALUES

FORMS = Path(__file__).resolve().parents[3] / "forms"


@pytest.fixture(scope="module")
def types():
    return load_document_types(FORMS)


def _errors(doc_type, **changes):
    return doc_type.validate({**VALUES.get(doc_type.key, {}), **changes}, zone="Asia/Tokyo").errors


@pytest.mark.req("A11-5")
@pytest.mark.parametrize("number", ["1e2000000", "1E+400", "0e-1000000", "1" * 21, "0." + "0" * 20 + "1"])
def test_a_number_written_out_with_more_digits_than_its_field_allows_is_refused(types, number):
    errors = _errors(types["oos_notification"], result=number)
    assert "too many digits" in errors["result"]


@pytest.mark.req("A11-5")
def test_a_number_within_the_digits_of_its_field_is_kept_as_entered(types):
    result = types["oos_notification"].validate(dict(VALUES["oos_notification"], result="72.0"), zone="UTC")
    assert not result.errors and str(result.values["result"]) == "72.0"


@pytest.mark.req("A11-5")
def test_a_whole_number_beyond_fifteen_digits_is_refused_so_canonical_json_holds_it_exactly(types):
    review = types["audit_trail_review"]
    for value in ("9" * 16, 2**63, -(10**20)):
        assert "too many digits" in _errors(review, first_event=value)["first_event"]


def test_a_field_definition_may_set_its_digits_within_the_bound_of_its_type(tmp_path):
    source = (FORMS / "oos_notification.toml").read_text("utf-8")
    (tmp_path / "oos_notification.toml").write_text(
        source.replace('type = "number"\nrequired = true\n', 'type = "number"\nrequired = true\nmax_digits = 500\n', 1), "utf-8")
    with pytest.raises(DefinitionError, match="max_digits"):
        load_document_types(tmp_path)


@pytest.mark.req("A11-5")
@pytest.mark.parametrize(("text", "code"), [
    ("Lot\x07A", "control characters"), ("Lot\x00A", "control characters"), ("Lot\x1bA", "control characters"),
    ("Lot\u202eA", "U+202E"),
    ("Lot\u2066A", "U+2066"), ("Lot\u200bA", "U+200B"), ("\ufeffLot", "U+FEFF"), ("Lot\ud800", "U+D800"),
])
def test_a_single_line_field_refuses_control_bidirectional_and_invisible_characters_naming_them(types, text, code):
    errors = _errors(types["deviation_report"], lot=text)
    assert code in errors["lot"]


def test_a_multi_line_field_keeps_tabs_and_line_breaks_but_refuses_other_controls(types):
    assert "description" not in _errors(types["deviation_report"], description="Line one\n\tLine two")
    assert "control characters" in _errors(types["deviation_report"], description="Line one\x0bLine two")["description"]
    assert "U+D800" in _errors(types["deviation_report"], description="Line \ud800")["description"]


@pytest.mark.req("A11-5")
def test_a_local_time_that_has_no_utc_equivalent_is_a_field_error_not_an_overflow(types):
    errors = _errors(types["fda_acknowledgement"], submitted_at="0001-01-01T00:00")
    assert "outside the years 1 to 9999" in errors["submitted_at"]


def test_one_line_of_text_is_stored_in_nfc():
    assert clean_line("  Cafe\u0301 ") == "Caf\u00e9"
    with pytest.raises(UnsafeText, match=r"U\+202E"):
        check_text("invoice\u202efdp.exe")
    check_text("two\nlines\tand a tab", multi_line=True)
