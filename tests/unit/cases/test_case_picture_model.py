"""The case picture's pure parts: where each record stands in the flow (its column, from the regime's
prerequisites), and how text fits its boxes in both languages."""
from __future__ import annotations

from pathlib import Path

import pytest

from edms.application.case_picture import columns_of
from edms.cases.regimes import load_regimes
from edms.documents.types import load_document_types
from edms.web.case_picture_svg import text_width, wrap

FORMS = Path(__file__).resolve().parents[3] / "forms"


@pytest.fixture(scope="module")
def regimes():
    return load_regimes(FORMS / "regimes", load_document_types(FORMS))


@pytest.mark.parametrize("key", ["jp_current", "jp_proposed", "us", "us_emergency", "eu", "us_protocol"])
def test_every_record_stands_to_the_right_of_every_record_it_needs_first(regimes, key):
    regime = regimes[key]
    columns = columns_of(regime)
    assert set(columns) == {document.type_key for document in regime.documents}
    for document in regime.documents:
        for before in document.prerequisites:
            assert columns[before] < columns[document.type_key], (key, before, document.type_key)
        if not document.prerequisites:
            assert columns[document.type_key] == 0


def test_the_release_comes_after_the_physicians_records_in_the_us_emergency_flow(regimes):
    columns = columns_of(regimes["us_emergency"])
    assert columns["oos_notification"] == 0
    assert columns["physician_justification"] == 1
    assert columns["fda_acknowledgement"] == 2
    assert columns["qa_release"] > columns["fda_acknowledgement"]
    assert columns["safety_report"] > columns["qa_release"]


def test_english_labels_wrap_between_words_and_never_overflow_the_box():
    lines = wrap("FDA acknowledgement of the expanded access IND", 240)
    assert len(lines) == 2
    assert all(text_width(line) <= 240 for line in lines)
    assert " ".join(lines) == "FDA acknowledgement of the expanded access IND"


def test_japanese_labels_wrap_between_characters_and_are_shortened_with_an_ellipsis_when_too_long():
    lines = wrap("拡大アクセスINDに対するFDAの受領確認の記録（治療担当医師の確認を含む）", 180)
    assert len(lines) == 2
    assert all(text_width(line) <= 180 for line in lines)
    assert lines[-1].endswith("…")
    assert wrap("品質保証部門の出荷判定", 180) == ["品質保証部門の出荷判定"]
