"""What schemathesis found against the OpenAPI document (scripts/api_contract.sh), kept as tests: every answer
is one the document declares, and a body field of the wrong type is refused by the schema the document
publishes, before any use case sees it (EU Annex 11 §5 built-in checks)."""
import pytest
from sqlalchemy import func, select

from edms.documents.models import Document
from tests.conftest import bearer
from tests.support.examples import VALUES


@pytest.fixture
def author(app, client, people, organisation_pki):
    people.make("kenji.sato", "author")
    return bearer(client, "kenji.sato")


@pytest.mark.req("A11-5")
def test_an_id_no_column_holds_is_a_404_for_every_method_not_a_405(client, author):
    for method in ("GET", "PUT"):
        response = client.open("/api/v1/documents/9223372036854775808", method=method, headers=author, json={"values": {}})
        assert response.status_code == 404, (method, response.status_code)
        assert response.json["error"]["code"] == "not_found"
    signatures = client.get("/api/v1/documents/1/versions/9223372036854775808/signatures", headers=author)
    assert signatures.status_code == 404


@pytest.mark.req("A11-5")
def test_a_multipart_part_without_a_readable_name_is_a_client_error_not_a_server_error(client, author):
    created = client.post("/api/v1/documents", headers=author, json={
        "type": "deviation_report", "title": "Low viability", "values": VALUES["deviation_report"]})
    boundary = "b0undary"
    # A name ending in a backslash escapes its closing quote: werkzeug reads the part with the name None.
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"a\\\"\r\n\r\n{{}}\r\n"
            f"--{boundary}--\r\n").encode()
    response = client.post(f"/api/v1/documents/{created.json['id']}/attachments", data=body, headers={
        **author, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert 400 <= response.status_code < 500, response.status_code
    assert set(response.json) == {"error"}


@pytest.mark.req("A11-5")
def test_a_body_field_of_the_wrong_type_is_refused_by_the_published_schema_and_nothing_is_stored(app, client, author):
    with app.extensions["edms"].sessions() as session:
        before = session.scalar(select(func.count()).select_from(Document))
    response = client.post("/api/v1/documents", headers=author, json={
        "type": "deviation_report", "title": 5, "values": VALUES["deviation_report"], "case_id": "one"})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_request"
    assert response.json["error"]["details"] == {"title": "must be a JSON string", "case_id": "must be a JSON integer"}
    with app.extensions["edms"].sessions() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == before
    schema = client.get("/api/v1/openapi.json").json["paths"]["/documents"]["post"]["requestBody"]
    assert schema["content"]["application/json"]["schema"]["properties"]["title"] == {"type": "string"}
