"""The signed-PDF page and its API show each signature's validation with the time it was made: a validation is
kept for a few minutes per process (pyHanko takes about half a second a PDF), by the exact PDF and trust
anchors, so a PDF that gained a signature is validated afresh, and a validation older than the kept minutes is
made again (issue #15, pages)."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from edms.application import signed_pdfs
from tests.conftest import sign_in
from tests.support.documents import Api, realistic_values, title_for
from tests.support.people import PASSWORD

CHECKED_AT = re.compile(r'<p id="checked-at">Checked at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z]+ \(UTC[+-]\d\d:\d\d\))')


@pytest.fixture
def validations(monkeypatch):
    """Every pyHanko validation the application asks for, by PDF size (the real validation still runs)."""
    made: list[int] = []
    validate = signed_pdfs.validate_signed_pdf

    def counted(pdf, roots):
        made.append(len(pdf))
        return validate(pdf, roots)

    monkeypatch.setattr(signed_pdfs, "validate_signed_pdf", counted)
    monkeypatch.setattr(signed_pdfs, "VALIDATIONS", signed_pdfs._Validations())
    return made


def _checked_at(client, document_id: int, number: int) -> str:
    page = client.get(f"/documents/{document_id}/versions/{number}/signed-pdf")
    assert page.status_code == 200
    found = CHECKED_AT.search(page.get_data(as_text=True))
    assert found, "the page says when its validation was made, with the zone"
    return found.group(1)


@pytest.mark.req("11.10(e)")
def test_the_page_and_the_api_show_when_the_validation_was_made_and_a_second_look_reuses_it(
        app, client, signed_case, validations):
    api = Api(client, "emi.nakamura")
    document_id = signed_case.documents[0]
    first = api.get(f"/documents/{document_id}/versions/3/signed-pdf").json
    checked = datetime.fromisoformat(first["checked_at"])
    assert checked.tzinfo is not None and abs(datetime.now(UTC) - checked) < timedelta(minutes=1)
    assert first["signatures"] and all(check["ok"] for check in first["signatures"])
    again = api.get(f"/documents/{document_id}/versions/3/signed-pdf").json
    assert again == first
    sign_in(client, "emi.nakamura")
    shown = _checked_at(client, document_id, 3)
    assert shown == _checked_at(client, document_id, 3)
    assert len(validations) == 1, "one pyHanko validation for four looks at one PDF"
    # Another version is another PDF: validated on its own.
    assert api.get(f"/documents/{document_id}/versions/1/signed-pdf").json["checked_at"]
    assert len(validations) == 2


def test_a_pdf_that_gained_a_signature_is_validated_afresh_and_shows_it(app, client, signed_case, validations):
    doc_type = app.extensions["edms"].document_types["oos_notification"]
    author = Api(client, "kenji.sato")
    created = author.post("/documents", json={"type": doc_type.key, "title": title_for(doc_type),
                                              "case_id": signed_case.case_id, "values": realistic_values(doc_type)})
    document_id = created.json["id"]
    assert author.post(f"/documents/{document_id}/submit").status_code == 200
    before = author.get(f"/documents/{document_id}/versions/1/signed-pdf").json
    assert [check["kind"] for check in before["signatures"]] == []
    signed = author.post(f"/documents/{document_id}/versions/1/signatures",
                         json={"username": "kenji.sato", "password": PASSWORD, "step": "qc_author"})
    assert signed.status_code == 201, signed.json
    after = author.get(f"/documents/{document_id}/versions/1/signed-pdf").json
    assert [check["kind"] for check in after["signatures"]] == ["signature"]
    check = after["signatures"][0]
    assert check["intact"] and check["trusted"] and check["timestamp"] and "Kenji Sato" in check["signer"]
    assert after["size"] > before["size"] and len(validations) == 2


def test_a_validation_older_than_the_kept_minutes_is_made_again(app, client, signed_case, validations, monkeypatch):
    api = Api(client, "emi.nakamura")
    document_id = signed_case.documents[0]
    api.get(f"/documents/{document_id}/versions/3/signed-pdf")
    monkeypatch.setattr(signed_pdfs, "VALIDATION_KEPT_FOR", timedelta(0))
    again = api.get(f"/documents/{document_id}/versions/3/signed-pdf").json
    assert len(validations) == 2 and all(check["ok"] for check in again["signatures"])


def test_the_japanese_page_says_when_it_was_checked(app, client, signed_case):
    from edms.users.models import User

    with app.extensions["edms"].sessions() as session, session.begin():
        session.query(User).filter_by(username="emi.nakamura").one().language = "ja"
    sign_in(client, "emi.nakamura")
    page = client.get(f"/documents/{signed_case.documents[0]}/versions/3/signed-pdf").get_data(as_text=True)
    assert re.search(r'<p id="checked-at">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z]+ \(UTC[+-]\d\d:\d\d\) に検証しました。'
                     r"検証結果は 5 分間保持され", page), page[:2000]
