"""The fast read of `GET /api/v1/documents/{id}` (the token, its holder and roles in one Core statement; the
document and its versions in another; plain rows, no ORM objects) answers exactly what the ORM read answers,
and refuses exactly what it refuses (21 CFR 11.10(d), 11.10(h))."""
from datetime import timedelta

import pytest
from flask import jsonify
from sqlalchemy import select

from edms.api.document_routes import _document_json
from edms.documents import queries
from edms.timeutil import utc_now
from edms.users.models import ApiToken, User
from edms.users.tokens import caller_for_token, user_for_token
from tests.conftest import bearer

QA, AUTHOR = "emi.nakamura", "kenji.sato"  # signers of the signed case (tests/support/signed_case.py)
NAMED_PHYSICIAN, OTHER_PHYSICIAN = "haruto.ito", "mei.suzuki"  # named on the case / neither named nor of its site


def _reference(app, document_id: int) -> bytes:
    """The body the ORM read made: `document_summary` serialised by `_document_json`."""
    services = app.extensions["edms"]
    with app.test_request_context(), services.sessions() as session:
        document = queries.document_summary(session, document_id)
        assert document is not None
        return jsonify(_document_json(document)).get_data()


def _revise_in_japanese(client, document_id: int) -> None:
    """The author opens a new version of an approved record, titled and justified in Japanese."""
    auth = bearer(client, AUTHOR)
    current = client.get(f"/api/v1/documents/{document_id}", headers=auth).json["current_version"]
    values = client.get(f"/api/v1/documents/{document_id}/versions/{current}", headers=auth).json["values"]
    revised = client.put(f"/api/v1/documents/{document_id}", headers=auth, json={
        "values": values, "title": "逸脱報告書（ロット L2026-0412、細胞生存率 72.4 %）",
        "reason": "品質保証部の指摘により、同等ロットの生存率データを追記した。\n改訂理由：リスク評価の補足"})
    assert revised.status_code == 201, revised.json


@pytest.mark.req("11.10(d)")
def test_the_core_read_of_every_document_of_a_signed_case_answers_byte_for_byte_what_the_orm_read_answers(
        app, client, signed_case):
    _revise_in_japanese(client, signed_case.documents[0])
    auth = bearer(client, QA)
    for document_id in signed_case.documents:
        response = client.get(f"/api/v1/documents/{document_id}", headers=auth)
        assert response.status_code == 200
        assert response.get_data() == _reference(app, document_id)
    revised = client.get(f"/api/v1/documents/{signed_case.documents[0]}", headers=auth).json
    assert revised["versions"][-1]["title"] == "逸脱報告書（ロット L2026-0412、細胞生存率 72.4 %）"
    assert revised["versions"][-1]["reason"].startswith("品質保証部の指摘により")
    assert revised["versions"][-1]["frozen_at"] is None and revised["versions"][0]["frozen_at"] is not None
    assert client.get("/api/v1/documents/999999", headers=auth).status_code == 404


def _token_row(app, token: str) -> ApiToken:
    services = app.extensions["edms"]
    with services.sessions() as session:
        return session.scalars(select(ApiToken).order_by(ApiToken.id.desc())).first()


def _change(app, username: str | None = None, token_id: int | None = None, **values) -> None:
    services = app.extensions["edms"]
    with services.sessions() as session:
        if username is not None:
            user = session.scalar(select(User).where(User.username == username))
            for name, value in values.items():
                setattr(user, name, value)
        if token_id is not None:
            row = session.get(ApiToken, token_id)
            for name, value in values.items():
                setattr(row, name, value)
        session.commit()


def _both_checks(app, token: str):
    """(the ORM check's holder id or None, the Core check's caller id or None, their roles)."""
    services = app.extensions["edms"]
    with services.sessions() as session:
        user = user_for_token(session, token)
        caller = caller_for_token(session, token)
        return (None if user is None else (user.id, user.roles, user.printed_name, user.language),
                None if caller is None else (caller.id, set(caller.roles), caller.printed_name, caller.language))


@pytest.mark.req("11.10(d)")
@pytest.mark.parametrize("refusal", ["expired", "revoked", "deactivated", "locked", "access_period_over"])
def test_the_core_token_check_refuses_what_the_orm_check_refuses_and_the_read_answers_401(
        app, client, signed_case, refusal):
    document = f"/api/v1/documents/{signed_case.documents[0]}"
    token = bearer(client, QA)["Authorization"][7:]
    orm, core = _both_checks(app, token)
    assert orm == core and orm is not None and "qa" in orm[1]
    assert client.get(document, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    row = _token_row(app, token)
    now = utc_now()
    if refusal == "expired":
        _change(app, token_id=row.id, expires_at=now - timedelta(seconds=1))
    elif refusal == "revoked":
        _change(app, token_id=row.id, revoked_at=now)
    elif refusal == "deactivated":
        _change(app, QA, active=False, deactivated_at=now)
    elif refusal == "locked":
        _change(app, QA, locked_at=now)
    else:
        _change(app, QA, access_expires_at=now - timedelta(seconds=1))
    assert _both_checks(app, token) == (None, None)
    refused = client.get(document, headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401 and refused.json["error"]["code"] == "unauthorized"


@pytest.mark.req("11.10(d)")
def test_an_unknown_or_malformed_token_is_refused_by_both_checks(app, client, signed_case):
    document = f"/api/v1/documents/{signed_case.documents[0]}"
    for token in ("not-a-token", "x" * 43, "é"):
        assert _both_checks(app, token) == (None, None)
    for header in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic abc"}):
        refused = client.get(document, headers=header)
        assert refused.status_code == 401 and refused.json["error"]["code"] == "unauthorized"


def test_a_physician_reads_the_records_of_the_case_they_are_named_on_and_no_other_physician_finds_them(
        client, signed_case):
    document = f"/api/v1/documents/{signed_case.documents[0]}"
    assert client.get(document, headers=bearer(client, NAMED_PHYSICIAN)).status_code == 200
    hidden = client.get(document, headers=bearer(client, OTHER_PHYSICIAN))
    assert hidden.status_code == 404 and hidden.json["error"]["code"] == "not_found"
