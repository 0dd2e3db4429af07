"""Signatures over the API: credentials in the body and the token owner's, 409 for the wrong step or version,
refusals with reasons, and the organisation's public PKI (21 CFR 11.10(f)(g)(i), 11.200(a)(1), 11.30)."""
from __future__ import annotations

import pytest
from cryptography import x509
from sqlalchemy import func, select

from edms.audit.models import AuditEvent
from edms.db import transaction
from edms.documents import models as dm
from edms.documents.operations import revise
from edms.signatures.models import Signature
from edms.users.models import User
from tests.conftest import PASSWORD, bearer
from tests.integration.signing_fixtures import OOS, context


def url(story, kind: str = "signatures", version: int = 1, document_id: int | None = None) -> str:
    return f"/api/v1/documents/{document_id or story.document_id}/versions/{version}/{kind}"


def signatures(story) -> int:
    with story.sessions() as session:
        return session.scalar(select(func.count()).select_from(Signature))


@pytest.mark.req("11.200(a)(1)", "11.200(a)(2)-(3)")
def test_a_token_alone_never_signs_the_credentials_must_be_the_token_owners(signing, client):
    headers = bearer(client, "kenji.sato")
    assert client.post(url(signing), json={"meaning": "authored"}, headers=headers).status_code == 400
    assert client.post(url(signing), json={"password": PASSWORD}, headers=headers).status_code == 400
    other = client.post(url(signing), json={"username": "akiko.tanaka", "password": PASSWORD}, headers=headers)
    assert other.status_code == 401 and other.json["error"]["code"] == "bad_credentials"
    assert client.post(url(signing), json={"username": "kenji.sato", "password": PASSWORD}).status_code == 401  # no token
    assert signatures(signing) == 0
    with signing.sessions() as session:
        failed = session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.failed")).all()
    assert [e.object_id for e in failed] == [str(signing.author.id)]  # counted against the token owner
    made = client.post(url(signing), json={"username": "kenji.sato", "password": PASSWORD, "meaning": "authored",
                                           "comment": "Result confirmed by retest."}, headers=headers)
    assert made.status_code == 201, made.json
    signature = made.json["signature"]
    assert (signature["printed_name"], signature["meaning"], signature["step"]) == ("Kenji Sato", "authored", "qc_author")
    assert signature["signed_at"].endswith("Z") and signature["verification"]["valid"]
    assert signature["comment"] == "Result confirmed by retest." and made.json["version_status"] == dm.IN_REVIEW


@pytest.mark.req("11.10(f)")
def test_the_wrong_step_or_a_superseded_version_answers_409(signing, client):
    signing.sign(signing.author)
    headers = bearer(client, "hiroshi.yamamoto")
    early = client.post(url(signing), json={"username": "hiroshi.yamamoto", "password": PASSWORD, "meaning": "approved"},
                        headers=headers)
    assert early.status_code == 409 and "Reviewed by QA must be signed first" in early.json["error"]["message"]
    with transaction(signing.sessions) as session:
        author = session.get(User, signing.author.id)
        revise(session, context(author), author, signing.document_types[OOS],
               session.get(dm.Document, signing.document_id), "Retest result added")
    headers = bearer(client, "akiko.tanaka")
    stale = client.post(url(signing), json={"username": "akiko.tanaka", "password": PASSWORD}, headers=headers)
    assert stale.status_code == 409 and "superseded" in stale.json["error"]["message"]
    assert client.post(url(signing, version=9), json={"username": "akiko.tanaka", "password": PASSWORD},
                       headers=headers).status_code == 404
    assert signatures(signing) == 1


@pytest.mark.req("11.10(i)", "11.100(b)")
def test_missing_signing_rights_answer_403_naming_each(signing, client):
    signing.sign(signing.author)
    signing.people.make("yui.kobayashi", "qa", printed_name="Yui Kobayashi")
    refused = client.post(url(signing), json={"username": "yui.kobayashi", "password": PASSWORD},
                          headers=bearer(client, "yui.kobayashi"))
    assert refused.status_code == 403 and refused.json["error"]["code"] == "not_ready"
    assert refused.json["error"]["details"]["missing"] == ["identity", "policy", "training"]


@pytest.mark.req("11.10(g)", "PICS-9.5")
def test_an_administrator_token_never_signs(signing, client):
    signing.sign(signing.author)
    refused = client.post(url(signing), json={"username": "daisuke.kato", "password": PASSWORD},
                          headers=bearer(client, "daisuke.kato"))
    assert refused.status_code == 403 and "can never sign" in refused.json["error"]["message"]


@pytest.mark.req("11.50(a)")
def test_a_refusal_over_the_api_needs_a_reason(signing, client):
    signing.sign(signing.author)
    headers = bearer(client, "akiko.tanaka")
    body = {"username": "akiko.tanaka", "password": PASSWORD}
    assert client.post(url(signing, "reject"), json=body, headers=headers).status_code == 400
    refused = client.post(url(signing, "reject"), json={**body, "reason": "Retest data missing."}, headers=headers)
    assert refused.status_code == 201 and refused.json["signature"]["kind"] == "rejection"
    assert refused.json["version_status"] == dm.REJECTED and refused.json["signature"]["comment"] == "Retest data missing."


@pytest.mark.req("11.30", "11.300(c)")
def test_the_organisation_pki_is_published_without_authentication(signing, client):
    ca = client.get("/api/v1/pki/ca.pem")
    assert ca.status_code == 200 and x509.load_pem_x509_certificate(ca.data).subject.rfc4514_string().startswith("CN=")
    signing_ca = x509.load_pem_x509_certificate(client.get("/api/v1/pki/signing-ca.pem").data)
    crl = client.get("/api/v1/pki/crl")
    assert crl.mimetype == "application/pkix-crl"
    assert x509.load_der_x509_crl(crl.data).is_signature_valid(signing_ca.public_key())
    assert client.get("/api/v1/pki/crl?format=pem").data.startswith(b"-----BEGIN X509 CRL-----")


def test_the_openapi_document_describes_the_signature_api(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    sign = paths["/documents/{document_id}/versions/{number}/signatures"]
    assert {"get", "post"} <= set(sign) and "409" in sign["post"]["responses"]
    assert "password" in sign["post"]["requestBody"]["content"]["application/json"]["schema"]["required"]
    assert "post" in paths["/documents/{document_id}/versions/{number}/reject"]
    assert "security" not in paths["/pki/crl"]["get"] and "get" in paths["/signatures/{signature_id}"]
