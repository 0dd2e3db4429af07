"""No raw internal code reaches a person (issue 12): every page a person can open, as each role, and every
rendition of a finished case (record PDF and DOCX, the inspection package's report and VERIFY.md), in English
and in Japanese, shows labels, never the keys behind them.

The rule, and how it avoids false positives:

* The keys are those defined in forms/ (document types, fields, choice values, signing steps, regimes), every
  audit action, every status of a version or a case and every role name.
* A key with an underscore or a dot (`in_review`, `car_expression`, `qa_review`, `jp_current`,
  `signature.signed`) never occurs in ordinary prose, so it is refused anywhere in the text people read, as a
  whole token (so `kenji.sato` or `content.json` are not mistaken for one).
* A key that is also an ordinary word (`approved`, `draft`, `viability`, `qa`, `author`) is refused only
  when it is the whole text of an element or table cell (`<td>approved</td>`): labels are capitalised or
  translated, so such a cell can only be the raw key. Running text such as "approved by QA" is not flagged.
* Upper-case codes (EU, JP, US) are abbreviations people use as they are.
* Only text meant for people is read: text nodes of the HTML (not attributes, URLs, scripts or form values)
  and the text of PDF and DOCX files. Machine formats (JSON, manifests, CSV columns, signed artefacts, the
  verifier) are exempt and not fetched. VERIFY.md is read without its shell commands and hash lists.
"""
from __future__ import annotations

import io
import re
import zipfile
from html.parser import HTMLParser

import pytest
from docx import Document as DocxDocument
from pypdf import PdfReader
from sqlalchemy import select

from edms.audit.labels import ACTION_LABELS
from edms.audit.models import AuditEvent
from edms.cases.models import CASE_STATUSES, Case
from edms.documents import models as dm
from edms.documents.models import VERSION_STATUSES
from edms.signatures.models import Signature
from edms.users.models import User
from edms.users.roles import ROLES
from tests.conftest import csrf_token, sign_in
from tests.support.documents import Api, realistic_values, title_for
from tests.support.inspection import INSPECTOR, exported_package, inspector  # noqa: F401

# Machine formats and files, not pages: exempt from the walk.
NOT_FOR_READING = {"static", "audit.export", "signatures.artefact", "inspection.verifier_script",
                   "documents.download_attachment", "documents.rendition", "jobs.status", "jobs.download"}
# Each role as a person of the signed case (tests/support/signed_case.py) or the inspector.
READERS = {"author": "kenji.sato", "qa": "emi.nakamura", "physician": "haruto.ito", "regulatory": "aiko.mori",
           "admin": "takeshi.ogawa", "inspector": INSPECTOR[0]}
TOKEN = re.compile(r"[A-Za-z0-9_.]+")


def raw_keys(app, session) -> tuple[set[str], set[str]]:
    """(keys that cannot be prose: with '_' or '.'), (keys that are also ordinary words)."""
    services = app.extensions["edms"]
    keys: set[str] = set(ACTION_LABELS) | set(VERSION_STATUSES) | set(CASE_STATUSES) | set(ROLES)
    keys |= set(session.scalars(select(AuditEvent.action).distinct()))
    for doc_type in services.document_types.values():
        keys.add(doc_type.key)
        keys |= {step.name for step in doc_type.steps}
        for field in doc_type.fields:
            keys.add(field.name)
            keys |= {choice.value for choice in field.choices}
    keys |= set(services.regimes)
    compound = {key for key in keys if "_" in key or "." in key}
    # Upper-case codes (EU, JP, US) are abbreviations people use as they are: not raw keys.
    return compound, {key for key in keys - compound if key != key.upper()}


class _Text(HTMLParser):
    """The text nodes of a page, one string per element's own text; attributes (option values, links) are
    never read, nor scripts, styles and signed manifests."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        # A signed manifest is shown as its exact bytes (JSON): a machine format, exempt.
        if tag in ("script", "style") or (tag == "pre" and "manifest" in (dict(attrs).get("class") or "")):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "pre") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def page_text(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.parts


def offences(parts: list[str], compound: set[str], words: set[str]) -> set[str]:
    found = set()
    for part in parts:
        found |= {token for token in TOKEN.findall(part) if token.strip(".") in compound}
        if part in words:
            found.add(part)
    return found


def _signed_in(app, client, username: str, language: str):
    with app.extensions["edms"].sessions() as session, session.begin():
        session.scalar(select(User).where(User.username == username)).language = language
    response = sign_in(client, username)
    assert response.status_code == 302, (username, response.get_data(as_text=True)[:500])
    return client


def _urls(app, case) -> list[str]:
    """Every GET page of the URL map, with the signed case's records, versions, signatures and people."""
    values = {
        "document_id": case["documents"], "number": [1, 3], "case_id": [case["case_id"]],
        "signature_id": case["signatures"], "user_id": case["users"], "type_key": ["oos_notification"],
        "site_id": [case["site_id"]], "job_id": case.get("jobs", []),
    }
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith("/api") or rule.endpoint in NOT_FOR_READING:
            continue
        combos: list[dict] = [{}]
        for argument in sorted(rule.arguments):
            assert argument in values, f"the walk does not know how to fill <{argument}> of {rule.rule}"
            combos = [{**combo, argument: value} for combo in combos for value in values[argument]]
        for combo in combos:
            with app.test_request_context():
                from flask import url_for
                urls.append(url_for(rule.endpoint, **combo))
    urls += [f"/inspection/search?case={case['reference']}", f"/audit?case_id={case['reference']}",
             f"/inspection/cases/{case['case_id']}?access=1", f"/documents/{case['documents'][0]}/diff?from=1&to=3",
             "/documents/?status=approved"]
    return sorted(set(urls))


def _record_in_review(app, client, case_id: int) -> int:
    """One more OOS notification of the case, submitted and waiting for QA: so that tasks, the signing
    ceremony and the steps still to sign are on the pages too, not only a finished history."""
    doc_type = app.extensions["edms"].document_types["oos_notification"]
    api = Api(client, "kenji.sato")
    created = api.post("/documents", json={"type": doc_type.key, "title": title_for(doc_type), "case_id": case_id,
                                           "values": realistic_values(doc_type)})
    assert created.status_code == 201, created.json
    submitted = api.post(f"/documents/{created.json['id']}/submit")
    assert submitted.status_code == 200, submitted.json
    return created.json["id"]


def _jobs(app, signed_case) -> list[int]:
    """An inspection package waiting for the worker (the inspector's), and an outbox delivery that ran (an
    administrator's): so that a job's page is read waiting and done."""
    from edms.application import jobs
    from edms.application.job_kinds import DELIVER_OUTBOX
    from edms.application.unit_of_work import command
    from edms.audit import AuditContext
    from edms.inspection.package import CASE, Scope

    services = app.extensions["edms"]
    with command(services.sessions) as session:
        admin = session.scalar(select(User).where(User.username == READERS["admin"]))
        as_admin = AuditContext(user_id=admin.id, user_name=admin.printed_name, client_addr="127.0.0.1")
        delivery = jobs.request_now(services, session, as_admin, admin, DELIVER_OUTBOX).id
    jobs.run_next(services)
    with command(services.sessions) as session:
        inspector = session.scalar(select(User).where(User.username == INSPECTOR[0]))
        as_inspector = AuditContext(user_id=inspector.id, user_name=inspector.printed_name, client_addr="127.0.0.1")
        export = jobs.request_export(services, session, as_inspector, inspector,
                                     Scope(CASE, signed_case.case_id)).id
    return [delivery, export]


def _case(app, signed_case) -> dict:
    with app.extensions["edms"].sessions() as session:
        rejection = session.scalar(select(Signature.signature_id).where(Signature.kind == "rejection"))
        approval = session.scalar(select(Signature.signature_id).where(Signature.kind == "signature")
                                  .order_by(Signature.id.desc()))
        return {"case_id": signed_case.case_id, "documents": signed_case.documents,
                "reference": session.get(Case, signed_case.case_id).reference,
                "site_id": session.get(Case, signed_case.case_id).site_id,
                "signatures": [rejection, approval],
                "users": [session.scalar(select(User.id).where(User.username == name)) for name in
                          ("kenji.sato", "haruto.ito")]}


@pytest.mark.req("ERES-legibility")
@pytest.mark.req("ALCOA+")
@pytest.mark.parametrize("language", ["en", "ja"])
def test_no_page_shows_a_raw_key_to_any_role(app, client, signed_case, inspector, language):
    case = _case(app, signed_case)
    case["documents"] = [*case["documents"], _record_in_review(app, client, signed_case.case_id)]
    case["jobs"] = _jobs(app, signed_case)
    with app.extensions["edms"].sessions() as session:
        compound, words = raw_keys(app, session)
    urls = _urls(app, case)
    found: dict[str, set[str]] = {}
    read = 0
    for role, username in READERS.items():
        _signed_in(app, client, username, language)
        for url in urls:
            response = client.get(url)
            if response.status_code != 200 or response.mimetype != "text/html":
                continue
            read += 1
            html = response.get_data(as_text=True)
            assert f'<html lang="{language}">' in html, (role, url)
            bad = offences(page_text(html), compound, words)
            if bad:
                found[f"{role} {url}"] = bad
        home = client.get("/").get_data(as_text=True)
        client.post("/logout", data={"csrf_token": csrf_token(home)})
    assert read > 60  # every role read its pages
    assert found == {}, "\n".join(f"{where}: {sorted(keys)}" for where, keys in sorted(found.items()))


def _pdf_text(data: bytes) -> list[str]:
    return [line.strip() for page in PdfReader(io.BytesIO(data)).pages for line in page.extract_text().splitlines()]


def _docx_text(data: bytes) -> list[str]:
    document = DocxDocument(io.BytesIO(data))
    parts = [section.header.paragraphs[0].text for section in document.sections]
    parts += [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        parts += [cell.text for row in table.rows for cell in row.cells]
    return [part.strip() for part in parts if part.strip()]


def _verify_md_prose(text: str) -> list[str]:
    """VERIFY.md without its fenced blocks (shell commands, hash lists) and inline code (paths, file names)."""
    prose = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    prose = re.sub(r"`[^`]*`", "", prose)
    return [line.strip() for line in prose.splitlines() if line.strip()]


@pytest.mark.req("ERES-legibility")
@pytest.mark.req("A11-8")
@pytest.mark.parametrize("language", ["en", "ja"])
def test_no_rendition_or_inspection_report_shows_a_raw_key(app, client, signed_case, inspector, language):
    case = _case(app, signed_case)
    with app.extensions["edms"].sessions() as session:
        compound, words = raw_keys(app, session)
        versions = [(d.id, v.version) for d in session.scalars(select(dm.Document).where(
            dm.Document.id.in_(case["documents"]))) for v in d.versions if v.version in (1, 3)]
    _signed_in(app, client, INSPECTOR[0], language)
    found: dict[str, set[str]] = {}
    for document_id, number in versions:
        for fmt, read in (("pdf", _pdf_text), ("docx", _docx_text)):
            response = client.get(f"/documents/{document_id}/versions/{number}/rendition.{fmt}",
                                  query_string={"lang": language})
            assert response.status_code == 200
            bad = offences(read(response.data), compound, words)
            if bad:
                found[f"rendition {document_id} v{number} {fmt}"] = bad

    history = client.get(f"/inspection/cases/{case['case_id']}").get_data(as_text=True)
    exported = exported_package(client, f"/inspection/cases/{case['case_id']}/export", {"csrf_token": csrf_token(history)})
    assert exported.status_code == 200 and exported.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(exported.data)) as package:
        names = package.namelist()
        report_html = package.read(next(n for n in names if n.endswith("report.html"))).decode()
        report_pdf = package.read(next(n for n in names if n.endswith("report.pdf")))
        verify_md = package.read(next(n for n in names if n.endswith("VERIFY.md"))).decode()
    for where, parts in (("report.html", page_text(report_html)), ("report.pdf", _pdf_text(report_pdf)),
                         ("VERIFY.md", _verify_md_prose(verify_md))):
        bad = offences(parts, compound, words)
        if bad:
            found[where] = bad
    assert case["reference"] in report_html and case["reference"] in verify_md  # the case as people name it
    assert found == {}


def test_the_rule_flags_keys_and_spares_ordinary_words_names_and_machine_text():
    compound, words = {"in_review", "car_expression", "signature.signed", "qa_review"}, {"approved", "qa", "viability"}
    parts = page_text('<p>Status: in_review</p><td>approved</td><td>Approved</td><p>approved by QA</p>'
                      '<p>kenji.sato signed content.json</p><p>Signed (signature.signed).</p>'
                      '<option value="car_expression">CAR expression</option>'
                      '<pre class="manifest">{"step":"qa_review"}</pre><pre class="notification-body">qa_review</pre>')
    assert offences(parts, compound, words) == {"in_review", "approved", "signature.signed", "qa_review"}
