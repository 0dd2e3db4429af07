"""Every identifier and word a person reads is theirs (issue 12): a language setting that lasts across
sign-ins, notifications written in each recipient's language, and case references wherever a case is typed
or read."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile

import pytest
from sqlalchemy import select

from edms.audit import AuditContext
from edms.audit.models import AuditEvent
from edms.cases.models import Case
from edms.db import transaction
from edms.notifications.models import Notification
from edms.notifications.outbox import deliver_pending, enqueue
from edms.timeutil import utc_now
from edms.users.models import User
from edms.wording import both
from tests.conftest import csrf_token, sign_in
from tests.integration.test_api import token_for
from tests.support.inspection import inspector, inspector_client  # noqa: F401
from tests.support.mail import MailServer

SERVICE = AuditContext.system("document service")


def language_events(app, username: str) -> list[AuditEvent]:
    with app.extensions["edms"].sessions() as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
        return list(session.scalars(select(AuditEvent).where(
            AuditEvent.action == "user.language_changed", AuditEvent.object_id == str(user_id)).order_by(AuditEvent.seq)))


def sign_out(client) -> None:
    home = client.get("/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(home)})


@pytest.mark.req("ERES-legibility")
@pytest.mark.req("11.10(e)")
def test_a_person_chooses_japanese_on_their_settings_page_audited_and_it_lasts_across_sign_ins(app, client, people):
    people.make("kenji.sato", "author", printed_name="Kenji Sato")
    sign_in(client, "kenji.sato")
    settings_page = client.get("/account/settings").get_data(as_text=True)
    assert '<html lang="en">' in settings_page and 'id="nav-settings"' in settings_page
    saved = client.post("/account/settings", data={"language": "ja", "csrf_token": csrf_token(settings_page)})
    assert saved.status_code == 302
    [event] = language_events(app, "kenji.sato")
    assert json.loads(event.changes) == {"language": {"old": "en", "new": "ja"}}
    assert event.actor_name == "Kenji Sato"

    sign_out(client)
    sign_in(client, "kenji.sato")
    home = client.get("/").get_data(as_text=True)
    assert '<html lang="ja">' in home and "ようこそ" in home


def test_an_unknown_language_is_refused_and_nothing_changes(app, client, people):
    people.make("kenji.sato", "author", printed_name="Kenji Sato")
    sign_in(client, "kenji.sato")
    page = client.get("/account/settings").get_data(as_text=True)
    client.post("/account/settings", data={"language": "fr", "csrf_token": csrf_token(page)})
    headers = {"Authorization": f"Bearer {token_for(client, 'kenji.sato')}"}
    refused = client.put("/api/v1/me/language", json={"language": "fr"}, headers=headers)
    assert refused.status_code == 400 and refused.json["error"]["code"] == "invalid_request"
    assert language_events(app, "kenji.sato") == []
    with app.extensions["edms"].sessions() as session:
        assert session.scalar(select(User.language).where(User.username == "kenji.sato")) == "en"


@pytest.mark.req("ERES-legibility")
def test_the_api_sets_the_callers_own_language(app, client, people):
    people.make("emi.nakamura", "qa", printed_name="Emi Nakamura")
    headers = {"Authorization": f"Bearer {token_for(client, 'emi.nakamura')}"}
    answer = client.put("/api/v1/me/language", json={"language": "ja"}, headers=headers)
    assert answer.status_code == 200 and answer.json["language"] == "ja"
    assert client.get("/api/v1/me", headers=headers).json["language"] == "ja"
    assert len(language_events(app, "emi.nakamura")) == 1


@pytest.mark.req("ERES-legibility")
def test_a_language_picked_on_the_sign_in_page_becomes_the_persons_setting(app, client, people):
    people.make("kenji.sato", "author", printed_name="Kenji Sato")
    login = client.get("/login").get_data(as_text=True)
    client.post("/language", data={"language": "ja", "csrf_token": csrf_token(login)})
    sign_in(client, "kenji.sato")
    assert '<html lang="ja">' in client.get("/").get_data(as_text=True)
    [event] = language_events(app, "kenji.sato")
    assert json.loads(event.changes)["language"]["new"] == "ja"


@pytest.mark.req("ERES-legibility")
def test_each_recipient_reads_a_notification_in_their_own_language(app, people):
    ja = people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    en = people.make("hiroshi.yamamoto", "qa", printed_name="Hiroshi Yamamoto")
    sessions = app.extensions["edms"].sessions
    with transaction(sessions) as session:
        session.get(User, ja.id).language = "ja"
    record = both("%(number)s version %(version)s (%(title)s)", number="OOS-2026-0001", version=2,
                  title="OOS: Cell viability, lot L2026-0412")
    with transaction(sessions) as session:
        enqueue(session, SERVICE, [session.get(User, ja.id), session.get(User, en.id)], kind="approved",
                smtp=app.extensions["edms"].settings.smtp,
                subject=both("%(record)s is approved.", record=record),
                body=both("Every signing step of %(record)s is complete: the version is approved and effective.",
                          record=record))
    with sessions() as session:
        written = {n.recipient.username: (n.subject, n.body) for n in session.scalars(select(Notification))}
        queued = [json.loads(e.changes)["subject"]["new"] for e in session.scalars(
            select(AuditEvent).where(AuditEvent.action == "notification.queued").order_by(AuditEvent.seq))]
    assert written["akiko.tanaka"][0] == "OOS-2026-0001 第2版（OOS: Cell viability, lot L2026-0412）が承認されました。"
    assert "承認され、発効しています" in written["akiko.tanaka"][1]
    assert written["hiroshi.yamamoto"][0] == "OOS-2026-0001 version 2 (OOS: Cell viability, lot L2026-0412) is approved."
    assert queued == [written["akiko.tanaka"][0], written["hiroshi.yamamoto"][0]]  # the audit trail says what was sent


@pytest.mark.req("ERES-legibility")
def test_a_case_reference_finds_the_cases_records_and_its_audit_events(app, signed_case, inspector_client):
    with app.extensions["edms"].sessions() as session:
        reference = session.get(Case, signed_case.case_id).reference
    assert reference.startswith("CASE-")
    found = inspector_client.get(f"/inspection/search?case={reference.lower()}").get_data(as_text=True)
    for number in signed_case.numbers.values():
        assert f'data-document="{number}"' in found
    assert f'class="case-link">{reference}</a>' in found
    unknown = inspector_client.get("/inspection/search?case=CASE-1999-0001").get_data(as_text=True)
    assert 'id="search-error"' in unknown and "CASE-1999-0001" in unknown

    audit = inspector_client.get(f"/audit?case_id={reference}").get_data(as_text=True)
    with app.extensions["edms"].sessions() as session:
        expected = session.scalars(select(AuditEvent.seq).where(AuditEvent.case_id == str(signed_case.case_id))).all()
    shown = [int(seq) for seq in re.findall(r'<tr data-seq="(\d+)"', audit)]
    assert shown and set(shown) <= set(expected)
    assert f"Case {reference}" in audit and "Case opened" in audit

    history = inspector_client.get(f"/inspection/cases/{signed_case.case_id}").get_data(as_text=True)
    assert f"<h1>Case {reference} · Signed history</h1>" in history
    record = inspector_client.get(f"/documents/{signed_case.documents[0]}").get_data(as_text=True)
    assert f'id="document-case">{reference}</a>' in record


@pytest.mark.req("ERES-legibility")
def test_the_api_finds_a_case_by_its_reference_too(app, client, signed_case, inspector):
    with app.extensions["edms"].sessions() as session:
        reference = session.get(Case, signed_case.case_id).reference
    headers = {"Authorization": f"Bearer {token_for(client, inspector.username)}"}
    found = client.get("/api/v1/search", query_string={"case": reference}, headers=headers)
    assert found.status_code == 200
    assert sorted(item["number"] for item in found.json["items"]) == sorted(signed_case.numbers.values())
    events = client.get("/api/v1/audit", query_string={"case_id": reference, "limit": 500}, headers=headers)
    assert events.status_code == 200 and events.json["items"]
    assert {item["case_id"] for item in events.json["items"]} == {str(signed_case.case_id)}


@pytest.mark.req("ERES-legibility")
def test_the_e_mail_of_a_notification_is_in_the_recipients_language(app, people):
    reader = people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    sessions = app.extensions["edms"].sessions
    with transaction(sessions) as session:
        session.get(User, reader.id).language = "ja"
    record = both("%(number)s version %(version)s (%(title)s)", number="OOS-2026-0001", version=1, title="OOS")
    with MailServer() as relay:
        smtp = relay.settings()
        with transaction(sessions) as session:
            enqueue(session, SERVICE, [session.get(User, reader.id)], kind="rejected", smtp=smtp,
                    subject=both("%(record)s was refused.", record=record),
                    body=both("%(record)s was refused with this reason:\n\n%(reason)s\n\n"
                              "Revise it as a new version and submit it again.",
                              record=record, reason="Viability data of comparable lots missing."))
        report = deliver_pending(sessions, AuditContext.system("edms outbox deliver"), smtp, utc_now())
    assert report.sent == 1
    mail = relay.received[0].message
    assert mail["Subject"] == "OOS-2026-0001 第1版（OOS）が差し戻されました。"
    assert "新しい版として改訂し、再度提出してください。" in mail.get_content()


def test_the_console_exports_a_case_named_by_its_reference(app, settings, signed_case, tmp_path):
    with app.extensions["edms"].sessions() as session:
        reference = session.get(Case, signed_case.case_id).reference
    env = {**os.environ, "EDMS_ENV": "testing", "EDMS_DATABASE_URL": settings.database_url,
           "EDMS_DATA_DIR": str(settings.data_dir)}
    output = tmp_path / "case.zip"
    console = subprocess.run([sys.executable, "-m", "edms.cli", "export", "--case", reference.lower(), "-o",
                              str(output), "--language", "ja"], env=env, capture_output=True, text=True, timeout=300)
    assert console.returncode == 0, console.stderr
    with zipfile.ZipFile(output) as package:
        verify_md = package.read(next(n for n in package.namelist() if n.endswith("VERIFY.md"))).decode()
    assert f"Case {reference}" in verify_md
    unknown = subprocess.run([sys.executable, "-m", "edms.cli", "export", "--case", "CASE-1999-0001", "-o",
                              str(tmp_path / "none.zip")], env=env, capture_output=True, text=True, timeout=120)
    assert unknown.returncode != 0 and "CASE-1999-0001" in unknown.stderr
