"""`GET /api/v1/documents/{id}` reads the token, its holder, their roles, the document and its versions in ONE
statement (`queries.document_summary_with_caller`, on PostgreSQL one round trip). It reads exactly what the two
statements it replaces read (`caller_for_token`, `document_summary_rows`), for callers with one role or
several, for documents with one version or several, and for no such document; a token that opens nothing
yields nothing, and the answers and refusals over HTTP stay those of the reference read
(tests/integration/test_api_reads_parity.py pins them byte for byte on the same route)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from edms.documents import queries
from edms.timeutil import utc_now
from edms.users.models import ApiToken
from edms.users.tokens import caller_for_token
from tests.conftest import bearer
from tests.integration.test_api_reads_parity import _revise_in_japanese

QA, AUTHOR, INSPECTOR = "emi.nakamura", "kenji.sato", "john.carter"
NAMED_PHYSICIAN = "haruto.ito"
MISSING = 999_999


def token_of(client, username: str, password: str | None = None) -> str:
    header = bearer(client, username) if password is None else bearer(client, username, password)
    return header["Authorization"][7:]


def both_reads(app, token: str, document_id: int):
    """(the one statement's caller and rows, the two statements' caller and rows), as plain values."""
    with app.extensions["edms"].sessions() as session:
        caller, rows = queries.document_summary_with_caller(session, token, document_id)
        one = (caller, None if rows is None else [_summary(row) for row in rows])
    with app.extensions["edms"].sessions() as session:
        reference_caller = caller_for_token(session, token)
        reference_rows = queries.document_summary_rows(session, document_id) if reference_caller else None
        two = (reference_caller, None if reference_rows is None else [_summary(row) for row in reference_rows])
    return one, two


def _summary(row) -> dict[str, object]:
    return {name: getattr(row, name) for name in (
        "id", "number", "type_key", "title", "status", "owner_id", "case_id", "created_at", "current_version",
        "v_version", "v_status", "v_title", "v_reason", "v_content_sha256", "v_created_by", "v_created_at",
        "v_frozen_at", "v_status_changed_at")}


@pytest.mark.req("11.10(d)")
def test_the_one_statement_reads_what_the_token_check_and_the_document_read_read_for_every_caller_and_record(
        app, client, signed_case, people):
    _revise_in_japanese(client, signed_case.documents[0])  # a newer version: a draft, in Japanese
    people.make("sayaka.mori", {"qa", "regulatory", "author"}, printed_name="森 さやか")
    people.make(INSPECTOR, "inspector", printed_name="John Carter")
    tokens = [token_of(client, name) for name in (QA, AUTHOR, INSPECTOR, NAMED_PHYSICIAN, "sayaka.mori")]
    for token in tokens:
        for document_id in [*signed_case.documents, MISSING]:
            one, two = both_reads(app, token, document_id)
            assert one == two
            assert one[0] is not None
            assert (one[1] is None) == (document_id == MISSING)
    one, _ = both_reads(app, tokens[4], signed_case.documents[0])
    assert one[0].roles == {"qa", "regulatory", "author"}
    versions = [row["v_version"] for row in one[1]]
    assert versions == list(range(1, len(versions) + 1)) and len(versions) >= 2  # each once, in order
    assert one[1][-1]["v_title"] == "逸脱報告書（ロット L2026-0412、細胞生存率 72.4 %）"


@pytest.mark.req("11.10(d)")
def test_a_token_that_opens_nothing_reads_nothing_and_the_read_answers_401_before_404(app, client, signed_case):
    token = token_of(client, QA)
    with app.extensions["edms"].sessions() as session:
        row = session.scalars(select(ApiToken).order_by(ApiToken.id.desc())).first()
        row.revoked_at = utc_now() - timedelta(seconds=1)
        session.commit()
    for unknown in (token, "not-a-token", "x" * 43):
        for document_id in (signed_case.documents[0], MISSING):
            assert both_reads(app, unknown, document_id) == ((None, None), (None, None))
            refused = client.get(f"/api/v1/documents/{document_id}", headers={"Authorization": f"Bearer {unknown}"})
            assert refused.status_code == 401 and refused.json["error"]["code"] == "unauthorized"
    missing = client.get(f"/api/v1/documents/{MISSING}", headers=bearer(client, QA))
    assert missing.status_code == 404
