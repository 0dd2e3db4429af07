"""What a fuzzer sends gets a clear 4xx and stores nothing: ids too large for the database, limits of zero,
JSON nested 100 000 deep, lone surrogates, times outside the years UTC can hold, control, bidirectional
and invisible characters (EU Annex 11 §5 built-in checks, 21 CFR 11.10(a)). Routes come from the app's
URL map, so new ones are walked too."""
from __future__ import annotations

import uuid

import pytest
from flask import Request
from sqlalchemy import func, select
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import AnyConverter, IntegerConverter, UUIDConverter

from edms.audit.models import AuditEvent
from edms.documents.models import Document
from tests.conftest import PASSWORD, bearer, csrf_token, sign_in
from tests.support.documents import ensure_signers
from tests.support.examples import VALUES

HUGE_IDS = (2**63, 10**30, int("9" * 400))
HOSTILE_INTEGERS = ("9223372036854775808", "-9223372036854775809", "9" * 5000, "1e3", "٣")
INTEGER_PARAMETERS = ("after", "before", "limit", "a", "b", "seq_from", "seq_to", "actor_id", "document_version", "case")
LIMITS = ("0", "-1", "501", "9223372036854775807")
TEXT_ATTACKS = {"\x07": "control", "\x1b[2J": "control", "\u202e": "U+202E", "\u2067": "U+2067", "\u200b": "U+200B",
                "\ufeff": "U+FEFF"}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture
def hostile(app, client, people, organisation_pki):
    """A QA person (reads audit and search, opens cases) signed in on the pages and holding a token,
    with one draft document and one case to aim at."""
    people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    ensure_signers(people, app.extensions["edms"].document_types["deviation_report"])  # so it may be submitted
    headers = bearer(client, "akiko.tanaka")
    document = client.post("/api/v1/documents", headers=headers, json={
        "type": "deviation_report", "title": "Low viability, lot L2026-0412", "values": VALUES["deviation_report"]})
    assert document.status_code == 201, document.json
    case = client.post("/api/v1/cases", headers=headers, json={
        "regime": "us", "product": "Autologous anti-CD19 CAR-T", "lot": "U2026-0311", "patient_ref": "PT-US0917",
        "treating_site": "MD Anderson Cancer Center", "site_timezone": "America/Chicago",
        "oos_detected_at": "2026-11-18T16:00:00-06:00"})
    assert case.status_code == 201, case.json
    sign_in(client, "akiko.tanaka")
    return {"headers": headers, "document_id": document.json["id"], "case_id": case.json["id"],
            "csrf": csrf_token(client.get("/").get_data(as_text=True))}


# Reads that are recorded by design: running the chain verification (GET /audit/verify) leaves its event; so
# does a route the user's roles do not open (403: edms.web.refusals), which changes nothing else.
RECORDED_READS = ("audit.verified", "access.refused")


def audit_count(app) -> int:
    with app.extensions["edms"].sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action.not_in(RECORDED_READS)))


def document_count(app) -> int:
    with app.extensions["edms"].sessions() as session:
        return session.scalar(select(func.count()).select_from(Document))


def build(rule, integer) -> str:
    arguments = {}
    for name, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter):
            arguments[name] = integer
        elif isinstance(converter, UUIDConverter):
            arguments[name] = uuid.uuid4()
        elif isinstance(converter, AnyConverter):
            arguments[name] = min(converter.items)
        else:
            arguments[name] = "pdf"
    return rule.build(arguments, append_unknown=False)[1]


def methods(rule) -> list[str]:
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


def send(client, hostile, method: str, url: str, **kwargs):
    if url.startswith("/api/"):
        return client.open(url, method=method, headers=hostile["headers"], **kwargs)
    if method in WRITE_METHODS and "json" not in kwargs:
        kwargs.setdefault("data", {"csrf_token": hostile["csrf"], "reason": "x"})
    return client.open(url, method=method, **kwargs)


@pytest.mark.req("A11-5")
@pytest.mark.req("11.10(a)")
def test_an_id_too_large_for_the_database_is_a_404_on_every_page_and_api_route(app, client, hostile):
    rules = [rule for rule in app.url_map.iter_rules()
             if any(isinstance(c, IntegerConverter) for c in rule._converters.values())]
    assert len(rules) >= 40
    before = audit_count(app)
    for rule in rules:
        for method in methods(rule):
            for integer in HUGE_IDS:
                response = send(client, hostile, method, build(rule, integer))
                # 405 where another method's rule has the same path: still refused before any view runs.
                assert response.status_code in (404, 405), (rule.rule, method, integer, response.status_code)
    assert audit_count(app) == before


class _NamesRead(ImmutableMultiDict):
    """Query parameters that note every name looked up, found or not. Going over them all is not noted: edms's
    one such reader is the NUL check before every request (edms.web.bounds), which reads no number."""

    read: set[str] = set()

    def __getitem__(self, key):
        _NamesRead.read.add(key)
        return super().__getitem__(key)  # `get` and `get(type=...)` come here

    def getlist(self, key, type=None):
        _NamesRead.read.add(key)
        return super().getlist(key, type)

    def __contains__(self, key):
        _NamesRead.read.add(key)
        return super().__contains__(key)


class _NotingRequest(Request):
    parameter_storage_class = _NamesRead


def parameters_read(client, hostile, url: str) -> set[str]:
    """Which of INTEGER_PARAMETERS the route's view (and every hook before it) asks for: with none given, and
    with all given (a view may read one only beside another)."""
    read: set[str] = set()
    for query in ({}, dict.fromkeys(INTEGER_PARAMETERS, "1")):
        _NamesRead.read = set()
        send(client, hostile, "GET", url, query_string=query)
        read |= _NamesRead.read
    return read & set(INTEGER_PARAMETERS)


@pytest.mark.req("A11-5")
def test_a_whole_number_out_of_range_in_a_query_string_is_a_400_naming_the_parameter_never_a_server_error(
        app, client, hostile):
    # Each hostile value is sent alone in each parameter the view reads: one the view never asks for cannot
    # reach it, and sending it anyway rendered every page 50 times (a PDF rendition among them).
    app.request_class = _NotingRequest
    rules = [rule for rule in app.url_map.iter_rules() if "GET" in rule.methods and rule.endpoint != "static"
             and not rule.endpoint.endswith(("export", "export_case", "export_document", "verifier_script"))]
    before = audit_count(app)
    every_read: set[str] = set()
    for rule in rules:
        url = build(rule, hostile["case_id"] if "case_id" in rule.arguments else hostile["document_id"])
        read = parameters_read(client, hostile, url)
        every_read |= read
        for name in sorted(read):
            for value in HOSTILE_INTEGERS:
                response = send(client, hostile, "GET", url, query_string={name: value})
                assert response.status_code < 500, (rule.rule, name, value, response.status_code)
    # The noting sees what views read: every parameter named here is read by some route.
    assert every_read == set(INTEGER_PARAMETERS), set(INTEGER_PARAMETERS) - every_read
    for url, name in (("/api/v1/audit", "after"), ("/api/v1/audit", "seq_from"), ("/api/v1/search", "before"),
                      ("/api/v1/search", "case"), ("/api/v1/cases", "after"),
                      (f"/api/v1/documents/{hostile['document_id']}/diff", "a"), ("/audit", "before"),
                      ("/inspection/search", "before"), (f"/documents/{hostile['document_id']}/diff", "b")):
        response = send(client, hostile, "GET", url, query_string={name: "9223372036854775808", "lot": "L"})
        assert response.status_code == 400, (url, name, response.status_code)
        assert f"'{name}'" in response.get_data(as_text=True).replace("&#39;", "'"), (url, name)
    assert audit_count(app) == before


@pytest.mark.req("A11-5")
@pytest.mark.parametrize("url", ["/api/v1/audit", "/api/v1/search", "/api/v1/cases"])
@pytest.mark.parametrize("limit", LIMITS)
def test_a_limit_of_zero_negative_or_beyond_the_page_is_a_400(app, client, hostile, url, limit):
    response = client.get(url, headers=hostile["headers"], query_string={"limit": limit})
    assert response.status_code == 400, response.json
    assert "'limit' must be a whole number from 1 to" in response.json["error"]["message"]


def hostile_bodies():
    deep = b"[" * 100_000 + b"]" * 100_000
    deep_object = b'{"title": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_000 + b"}"
    keys = ("title", "reason", "type", "values", "case_id", "physician_id", "delegate_id", "delegator_id", "key",
            "value", "username", "password", "role", "lot", "answer", "step", "meaning", "comment")
    huge = "{" + ", ".join(f'"{key}": 9223372036854775808' for key in keys) + "}"
    surrogate = "{" + ", ".join(f'"{key}": "x\\ud800"' for key in keys) + "}"
    nul = "{" + ", ".join(f'"{key}": "x\\u0000"' for key in keys) + "}"
    return {"deep array": deep, "deep object": deep_object, "integer beyond 2^63": huge.encode(),
            "lone surrogate": surrogate.encode(), "NUL": nul.encode(), "NaN": b'{"title": NaN}'}


@pytest.mark.req("A11-5")
@pytest.mark.req("11.10(a)")
@pytest.mark.parametrize("kind", list(hostile_bodies()))
def test_a_hostile_json_body_is_a_400_on_every_api_write_route_and_stores_nothing(app, client, hostile, kind):
    body = hostile_bodies()[kind]
    rules = [(rule, method) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")
             for method in methods(rule) if method in WRITE_METHODS and rule.endpoint != "api.revoke"]
    assert len(rules) >= 12
    before = audit_count(app)
    for rule, method in rules:
        url = build(rule, hostile["case_id"] if "case_id" in rule.arguments else hostile["document_id"])
        response = client.open(url, method=method, data=body, content_type="application/json",
                               headers=hostile["headers"] if "auth/token" not in url else {})
        assert 400 <= response.status_code < 500, (rule.rule, method, kind, response.status_code)
        if response.status_code == 400 and rule.endpoint in ("api.create_document", "api.create_case", "api.token"):
            assert response.json["error"]["message"], (rule.rule, kind)
    assert audit_count(app) == before
    response = client.post("/api/v1/documents", data=body, content_type="application/json", headers=hostile["headers"])
    assert response.status_code == 400 and response.json["error"]["code"] == "bad_request", response.json


@pytest.mark.req("A11-5")
@pytest.mark.parametrize(("attack", "named"), list(TEXT_ATTACKS.items()))
def test_a_title_with_control_bidirectional_or_invisible_characters_is_refused_over_the_api_and_the_pages(
        app, client, hostile, attack, named):
    documents, before = document_count(app), audit_count(app)
    title = f"Low viability{attack}, lot L2026-0412"
    response = client.post("/api/v1/documents", headers=hostile["headers"], json={
        "type": "deviation_report", "title": title, "values": VALUES["deviation_report"]})
    assert response.status_code == 400 and named in response.json["error"]["details"]["title"], response.json
    page = client.post("/documents/new/deviation_report", data={
        "csrf_token": hostile["csrf"], "title": title, **VALUES["deviation_report"]})
    assert page.status_code == 200 and named in page.get_data(as_text=True)
    edited = client.put(f"/api/v1/documents/{hostile['document_id']}", headers=hostile["headers"], json={
        "title": title, "values": VALUES["deviation_report"], "reason": "typo"})
    assert edited.status_code == 400 and named in edited.json["error"]["details"]["title"], edited.json
    assert (document_count(app), audit_count(app)) == (documents, before)


def test_a_title_is_stored_in_nfc_like_the_values(app, client, hostile):
    response = client.post("/api/v1/documents", headers=hostile["headers"], json={
        "type": "deviation_report", "title": "Cafe\u0301 lot L2026-0412", "values": VALUES["deviation_report"]})
    assert response.status_code == 201 and response.json["title"] == "Caf\u00e9 lot L2026-0412"


@pytest.mark.req("A11-5")
def test_a_case_fact_with_a_right_to_left_override_is_refused(app, client, hostile):
    before = audit_count(app)
    response = client.post("/api/v1/cases", headers=hostile["headers"], json={
        "regime": "us", "product": "CAR-T", "lot": "U2026\u202e1130", "patient_ref": "PT-US0918",
        "treating_site": "Site", "site_timezone": "UTC", "oos_detected_at": "2026-11-18T16:00:00-06:00"})
    assert response.status_code == 400 and "U+202E" in response.json["error"]["message"], response.json
    assert audit_count(app) == before


@pytest.mark.req("A11-5")
@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+09:00", "9999-12-31T23:59:59-10:00"])
def test_a_time_outside_the_years_utc_can_hold_is_a_400_not_an_overflow(app, client, hostile, moment):
    before = audit_count(app)
    dated = client.post(f"/api/v1/cases/{hostile['case_id']}/dates", headers=hostile["headers"],
                        json={"key": "oos_detected", "value": moment})
    assert dated.status_code == 400 and "outside the years 1 to 9999" in dated.json["error"]["message"], dated.json
    delegated = client.post("/api/v1/delegations", headers=hostile["headers"], json={
        "delegate_id": 1, "role": "qa", "starts_at": moment, "ends_at": moment, "reason": "leave",
        "password": PASSWORD})
    assert 400 <= delegated.status_code < 500
    for name, value in (("from", "0001-01-01"), ("to", "9999-12-31"), ("from", moment)):
        for url in ("/api/v1/audit", "/api/v1/search"):
            response = client.get(url, headers=hostile["headers"], query_string={name: value})
            assert response.status_code == 400, (url, name, value, response.json)
        assert client.get("/audit", query_string={name: value}).status_code < 500
        assert client.get("/inspection/search", query_string={name: value}).status_code < 500
    page = client.post(f"/cases/{hostile['case_id']}/dates", data={
        "csrf_token": hostile["csrf"], "key": "oos_detected", "value": "0001-01-01T00:00"})
    assert page.status_code < 500
    assert audit_count(app) == before


@pytest.mark.req("A11-5")
def test_a_nul_character_in_a_query_or_form_value_is_a_400(app, client, hostile):
    assert client.get("/api/v1/cases", headers=hostile["headers"], query_string={"lot": "L\x00"}).status_code == 400
    response = client.post(f"/cases/{hostile['case_id']}/status", data={
        "csrf_token": hostile["csrf"], "status": "closed", "reason": "done\x00"})
    assert response.status_code == 400


@pytest.mark.req("A11-5")
@pytest.mark.parametrize("name", ["Kenji\u202eSato", "Kenji\u200bSato", "Kenji\x07Sato"])
def test_a_printed_name_with_control_bidirectional_or_invisible_characters_is_refused(app, people, name):
    from edms.users.operations import AccountError

    with pytest.raises(AccountError, match="The printed name may not hold U"):
        people.make("kenji.sato", "author", printed_name=name)


def test_a_printed_name_is_stored_in_nfc(app, people):
    assert people.make("kenji.sato", "author", printed_name="Rene\u0301 Sato").printed_name == "Ren\u00e9 Sato"


@pytest.mark.req("A11-5")
def test_a_signature_comment_or_refusal_reason_with_a_control_character_is_refused_and_nothing_is_signed(signing, client):
    from edms.signatures.models import Signature

    path = f"/api/v1/documents/{signing.document_id}/versions/1"
    headers = bearer(client, "kenji.sato")
    signed = client.post(f"{path}/signatures", headers=headers, json={
        "username": "kenji.sato", "password": PASSWORD, "meaning": "authored", "comment": "Confirmed\x0c by retest"})
    assert signed.status_code == 400 and "U+000C" in signed.json["error"]["message"], signed.json
    refused = client.post(f"{path}/reject", headers=headers, json={
        "username": "kenji.sato", "password": PASSWORD, "reason": "Data\x1b missing"})
    assert refused.status_code == 400 and "U+001B" in refused.json["error"]["message"], refused.json
    with signing.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Signature)) == 0


@pytest.mark.req("A11-5")
def test_a_new_version_with_a_control_character_in_its_reason_is_refused(app, client, hostile):
    document = hostile["document_id"]
    assert client.post(f"/api/v1/documents/{document}/submit", headers=hostile["headers"]).status_code == 200
    before = audit_count(app)
    page = client.post(f"/documents/{document}/revise", data={"csrf_token": hostile["csrf"], "reason": "typo\x07"},
                       follow_redirects=True)
    assert page.status_code < 500 and "U+0007" in page.get_data(as_text=True)
    assert audit_count(app) == before
