"""The published schemas are true of real answers: on the signed case (three documents, a refusal, a revision,
signatures by every role), each resource's success answer validates against the schema the OpenAPI document
declares for its operation and status."""
from __future__ import annotations

from datetime import timedelta

import jsonschema_rs
import pytest

from edms.timeutil import utc_now
from tests.support.documents import Api
from tests.support.inspection import INSPECTOR, inspector  # noqa: F401
from tests.support.people import PASSWORD
from tests.support.signed_case import SIGNERS, VERIFIER


class Contract:
    def __init__(self, client) -> None:
        self.spec = client.get("/api/v1/openapi.json").get_json()
        self.checked: set[tuple[str, str]] = set()

    def holds(self, api: Api, method: str, template: str, path: str, **kwargs) -> dict:
        response = getattr(api, method)(path, **kwargs)
        status = str(response.status_code)
        assert status.startswith("2"), (method, path, status, response.get_data(as_text=True)[:500])
        schema = self.spec["paths"][template][method]["responses"][status]["content"]["application/json"]["schema"]
        errors = [f"{error.instance_path}: {error.message}"
                  for error in jsonschema_rs.validator_for(schema).iter_errors(response.json)]
        assert not errors, (method, path, errors[:5])
        self.checked.add((method, template))
        return response.json


@pytest.mark.req("A11-5")
def test_real_answers_on_the_signed_case_match_the_published_schemas(app, client, signed_case, inspector):  # noqa: F811
    contract = Contract(client)
    author = Api(client, SIGNERS["author"][0][0])
    admin = Api(client, VERIFIER[0])
    reader = Api(client, INSPECTOR[0])
    case = signed_case.case_id

    contract.holds(author, "get", "/me", "/me")
    contract.holds(admin, "get", "/users", "/users")
    contract.holds(author, "get", "/document-types", "/document-types")
    contract.holds(author, "get", "/cases", "/cases")
    contract.holds(author, "get", "/cases/{case_id}", f"/cases/{case}")
    for document_id in signed_case.documents:
        document = contract.holds(author, "get", "/documents/{document_id}", f"/documents/{document_id}")
        contract.holds(author, "get", "/documents/{document_id}/versions", f"/documents/{document_id}/versions")
        for summary in document["versions"]:
            number = summary["version"]
            contract.holds(author, "get", "/documents/{document_id}/versions/{number}",
                           f"/documents/{document_id}/versions/{number}")
            contract.holds(author, "get", "/documents/{document_id}/versions/{number}/signatures",
                           f"/documents/{document_id}/versions/{number}/signatures")
        contract.holds(author, "get", "/documents/{document_id}/diff", f"/documents/{document_id}/diff")
        contract.holds(reader, "get", "/documents/{document_id}/timeline", f"/documents/{document_id}/timeline")
    for signature_id in signed_case.signatures:
        contract.holds(author, "get", "/signatures/{signature_id}", f"/signatures/{signature_id}")
    contract.holds(reader, "get", "/cases/{case_id}/timeline", f"/cases/{case}/timeline")
    contract.holds(reader, "get", "/search", "/search")
    contract.holds(reader, "get", "/audit", "/audit")
    contract.holds(reader, "get", "/audit/verify", "/audit/verify")
    for who in (author, admin, reader):
        contract.holds(who, "get", "/tasks", "/tasks")
        contract.holds(who, "get", "/notifications", "/notifications")
    contract.holds(author, "get", "/delegations", "/delegations")
    contract.holds(admin, "get", "/delegations", "/delegations")

    # writes: a physician hands her signing over while away, then ends it early; a token is withdrawn
    users = {user["username"]: user["id"] for user in contract.holds(admin, "get", "/users", "/users")["items"]}
    (absent, _), (delegate, _) = SIGNERS["physician"]
    physician = Api(client, absent)
    start = utc_now() + timedelta(days=1)
    given = contract.holds(physician, "post", "/delegations", "/delegations", json={
        "delegate_id": users[delegate], "role": "physician", "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(days=3)).isoformat(), "reason": "Conference in Osaka", "password": PASSWORD})
    contract.holds(physician, "post", "/delegations/{delegation_id}/revoke", f"/delegations/{given['id']}/revoke",
                   json={"reason": "Back early"})
    contract.holds(physician, "post", "/auth/revoke", "/auth/revoke")
    # a job: an inspection package queued (202), then read while it waits; an outbox delivery started now
    queued = contract.holds(reader, "post", "/cases/{case_id}/export", f"/cases/{case}/export")
    contract.holds(reader, "get", "/jobs/{job_id}", f"/jobs/{queued['id']}")
    contract.holds(admin, "post", "/jobs", "/jobs", json={"kind": "outbox.deliver"})
    assert len(contract.checked) >= 22
