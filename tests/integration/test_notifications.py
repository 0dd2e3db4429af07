"""Notifications go to an outbox: e-mailed through SMTP when configured, otherwise recorded (issue 6).

Delivery is tested against a real SMTP server on the loopback interface (tests/support/mail.py).
"""
import os
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from edms.audit import AuditContext
from edms.audit.models import AuditEvent
from edms.config import SmtpSettings
from edms.db import transaction
from edms.notifications.models import Notification
from edms.notifications.outbox import deliver_pending, enqueue, notify_users_with_roles
from edms.timeutil import utc_now
from edms.users import operations as accounts
from edms.users.models import User
from edms.users.profiles import Profile
from tests.conftest import csrf_token, sign_in
from tests.integration.test_api import token_for
from tests.support.inspection import run_jobs
from tests.support.mail import MailServer, free_port

NO_SMTP = SmtpSettings()
SUBMITTED = dict(subject="OOS-2026-0001 awaits your review: OOS notification, lot CAR-T-2611-07",
                 body="Kenji Sato submitted OOS-2026-0001 version 1.\nOpen Tasks to review and sign it.", kind="task")
SERVICE = AuditContext.system("document service")


@pytest.fixture
def team(people):
    """The QC author, two QA reviewers and a physician of the Osaka site."""
    return {
        "author": people.make("kenji.sato", "author", printed_name="Kenji Sato"),
        "qa": people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka"),
        "qa2": people.make("hiroshi.yamamoto", "qa", printed_name="Hiroshi Yamamoto"),
        "physician": people.make("yuki.mori", "physician", printed_name="Yuki Mori"),
    }


def notify(sessions, recipients, smtp=NO_SMTP, by=SERVICE, **message):
    with transaction(sessions) as session:
        people = [session.get(User, person.id) for person in recipients]
        created = enqueue(session, by, people, smtp=smtp, **{**SUBMITTED, **message})
        return [n.id for n in created]


def rows(sessions):
    with sessions() as session:
        return session.scalars(select(Notification).order_by(Notification.id)).all()


def events(sessions, action):
    with sessions() as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).all()


def deliver(sessions, smtp, **options):
    return deliver_pending(sessions, AuditContext.system("edms outbox deliver (console)"), smtp, utc_now(), **options)


def with_smtp(app, smtp):
    services = app.extensions["edms"]
    services.settings = replace(services.settings, smtp=smtp)


def test_enqueue_records_one_notification_per_active_recipient_with_an_audit_event(sessions, team):
    with transaction(sessions) as session:
        leaver = session.get(User, team["qa2"].id)
        accounts.deactivate(session, AuditContext.system("test setup"), leaver, "left the company")
    author = AuditContext(user_id=team["author"].id, user_name="Kenji Sato", client_addr="10.0.0.7")
    notify(sessions, [team["qa"], team["qa"], team["qa2"]], by=author)
    [notification] = rows(sessions)
    assert notification.recipient_id == team["qa"].id
    assert notification.recipient_email == "akiko.tanaka@example.org"
    assert (notification.subject, notification.kind, notification.attempts) == (SUBMITTED["subject"], "task", 0)
    assert notification.created_at.tzinfo is not None and notification.sent_at is None
    [queued] = events(sessions, "notification.queued")
    assert queued.actor_name == "Kenji Sato" and queued.object_type == "notification"
    assert queued.object_id == str(notification.id)
    assert '"recipient":{"new":"akiko.tanaka"' in queued.changes and '"status":{"new":"recorded"' in queued.changes


def test_without_an_smtp_relay_notifications_are_recorded_and_nothing_is_sent(sessions, team):
    notify(sessions, [team["qa"], team["qa2"]])
    assert {n.status for n in rows(sessions)} == {"recorded"}
    report = deliver(sessions, NO_SMTP)
    assert (report.configured, report.sent, report.failed, report.waiting) == (False, 0, 0, 0)
    assert {n.status for n in rows(sessions)} == {"recorded"}


def test_a_subject_is_one_line_and_the_kind_must_be_known(sessions, team):
    notify(sessions, [team["qa"]], subject="OOS-2026-0001\r\nBcc: everyone@example.org")
    assert rows(sessions)[0].subject == "OOS-2026-0001 Bcc: everyone@example.org"
    with pytest.raises(ValueError, match="unknown notification kind"):
        notify(sessions, [team["qa"]], kind="gossip")


def test_every_active_holder_of_the_roles_is_told_except_the_one_who_acted(sessions, team, people):
    people.make("naoko.ito", "regulatory")
    with transaction(sessions) as session:
        notify_users_with_roles(session, SERVICE, {"qa", "author"}, smtp=NO_SMTP, exclude_ids={team["author"].id},
                                **SUBMITTED)
    recipients = {n.recipient.username for n in rows(sessions)}
    assert recipients == {"akiko.tanaka", "hiroshi.yamamoto"}


def test_an_inspector_whose_access_has_expired_is_not_told(sessions, people):
    inspector = people.make("john.carter", "inspector")
    with transaction(sessions) as session:
        account = session.get(User, inspector.id)
        account.access_expires_at = utc_now() - timedelta(days=1)
    assert notify(sessions, [inspector]) == []


def test_with_smtp_configured_each_notification_is_mailed_to_its_recipient(sessions, team, people):
    with MailServer() as relay:
        smtp = relay.settings()
        with transaction(sessions) as session:
            no_address = accounts.create_user(
                session, AuditContext.system("test setup"), people.settings.password, username="emily.chen",
                profile=Profile(printed_name="Emily Chen"), roles={"physician"}, password="Correct-Horse-2026!",
            )
        notify(sessions, [team["qa"], team["qa2"], no_address], smtp=smtp)
        assert [n.status for n in rows(sessions)] == ["pending", "pending", "recorded"]
        report = deliver(sessions, smtp)
    assert (report.sent, report.failed, report.waiting) == (2, 0, 0)
    assert sorted(mail.rcpt_tos[0] for mail in relay.received) == ["akiko.tanaka@example.org",
                                                                  "hiroshi.yamamoto@example.org"]
    first = relay.received[0].message
    assert first["Subject"] == SUBMITTED["subject"] and first["From"] == "edms@kansai-rct.example"
    assert first["To"] == "Akiko Tanaka <akiko.tanaka@example.org>"
    assert first.get_content().splitlines() == SUBMITTED["body"].splitlines()
    akiko, hiroshi, emily = rows(sessions)
    assert (akiko.status, akiko.attempts, akiko.last_error) == ("sent", 1, None) and akiko.sent_at is not None
    assert emily.status == "recorded" and emily.recipient_email is None
    sent = events(sessions, "notification.sent")
    assert [event.object_id for event in sent] == [str(akiko.id), str(hiroshi.id)]
    assert '"status":{"new":"sent","old":"pending"}' in sent[0].changes


def test_delivery_signs_in_to_the_relay_over_starttls(sessions, team, tmp_path):
    with MailServer(tls_dir=tmp_path / "relay", login=("edms-relay", "Relay-Secret-2026")) as relay:
        smtp = relay.settings(security="starttls", username="edms-relay", password="Relay-Secret-2026")
        notify(sessions, [team["qa"]], smtp=smtp)
        assert deliver(sessions, smtp).sent == 1
    assert relay.received[0].rcpt_tos == ["akiko.tanaka@example.org"]


def test_an_unreachable_relay_fails_the_notifications_and_a_later_delivery_retries_them(sessions, team):
    port = free_port()
    down = SmtpSettings(host="127.0.0.1", port=port, security="none", timeout_seconds=5.0)
    notify(sessions, [team["qa"], team["qa2"]], smtp=down)
    report = deliver(sessions, down)
    assert (report.sent, report.failed, report.waiting) == (0, 2, 2)
    for notification in rows(sessions):
        assert (notification.status, notification.attempts) == ("failed", 1)
        assert notification.last_error.startswith("ConnectionRefusedError")
    assert len(events(sessions, "notification.failed")) == 2
    with MailServer(port) as relay:
        report = deliver(sessions, relay.settings())
    assert (report.sent, report.failed, report.waiting) == (2, 0, 0)
    assert len(relay.received) == 2
    assert [(n.status, n.attempts) for n in rows(sessions)] == [("sent", 2), ("sent", 2)]


def test_a_refused_address_fails_alone_and_is_retried_only_up_to_max_attempts(sessions, team):
    with MailServer(refuse={"hiroshi.yamamoto@example.org"}) as relay:
        smtp = relay.settings(max_attempts=2)
        notify(sessions, [team["qa"], team["qa2"]], smtp=smtp)
        first = deliver(sessions, smtp)
        second = deliver(sessions, smtp)
        third = deliver(sessions, smtp)
    assert (first.sent, first.failed, second.failed, third.failed, third.waiting) == (1, 1, 1, 0, 0)
    akiko, hiroshi = rows(sessions)
    assert akiko.status == "sent"
    assert (hiroshi.status, hiroshi.attempts) == ("failed", 2)
    assert hiroshi.last_error.startswith("SMTPRecipientsRefused") and "No such mailbox" in hiroshi.last_error
    assert len(relay.received) == 1


def test_each_person_sees_only_their_own_notifications_newest_first(app, client, sessions, team):
    notify(sessions, [team["qa"]], subject="OOS-2026-0001 awaits your review")
    notify(sessions, [team["qa2"]], subject="OOS-2026-0002 awaits your review")
    notify(sessions, [team["qa"]], subject="OOS-2026-0003 was approved", kind="approved")
    sign_in(client, "akiko.tanaka")
    page = client.get("/notifications/").get_data(as_text=True)
    assert 'id="nav-notifications"' in page
    assert page.index("OOS-2026-0003 was approved") < page.index("OOS-2026-0001 awaits your review")
    assert "OOS-2026-0002" not in page
    assert "Recorded (no e-mail)" in page and "Open Tasks to review and sign it." in page


def test_the_api_gives_the_caller_their_own_notifications(client, sessions, team):
    notify(sessions, [team["qa"]], subject="OOS-2026-0001 awaits your review")
    notify(sessions, [team["qa2"]], subject="OOS-2026-0002 awaits your review")
    token = token_for(client, "hiroshi.yamamoto")
    listing = client.get("/api/v1/notifications", headers={"Authorization": f"Bearer {token}"})
    assert listing.status_code == 200
    [item] = listing.json["items"]
    assert (item["subject"], item["kind"], item["status"]) == ("OOS-2026-0002 awaits your review", "task", "recorded")
    assert item["created_at"].endswith("Z") and item["sent_at"] is None
    assert client.get("/api/v1/notifications").status_code == 401
    assert "/notifications" in client.get("/api/v1/openapi.json").json["paths"]


def test_an_administrator_sees_the_outbox_and_delivers_pending_now(app, admin_client, sessions, team):
    with MailServer() as relay:
        with_smtp(app, relay.settings())
        notify(sessions, [team["qa"]], smtp=relay.settings())
        page = admin_client.get("/admin/outbox").get_data(as_text=True)
        assert 'id="nav-outbox"' in page and "Waiting to be sent" in page and "akiko.tanaka@example.org" in page
        assert SUBMITTED["body"].splitlines()[1] not in page  # bodies are for their recipients
        # "Deliver now" queues a delivery job and shows its page; the worker sends (here: run as a test runs it).
        response = admin_client.post("/admin/outbox/deliver", data={"csrf_token": csrf_token(page)})
        assert response.status_code == 302 and "/jobs/" in response.headers["Location"]
        assert run_jobs(app)
        after = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Sent: 1. Failed: 0. Still waiting: 0." in after
    assert [mail.rcpt_tos for mail in relay.received] == [["akiko.tanaka@example.org"]]
    [sent] = events(sessions, "notification.sent")
    assert sent.actor_name == "Daisuke Kato"


def test_without_smtp_the_deliver_button_says_nothing_was_sent(app, admin_client, sessions, team):
    notify(sessions, [team["qa"]])
    page = admin_client.get("/admin/outbox").get_data(as_text=True)
    assert "E-mail is not configured" in page
    job_page = admin_client.post("/admin/outbox/deliver", data={"csrf_token": csrf_token(page)}).headers["Location"]
    run_jobs(app)
    assert "nothing was sent" in admin_client.get(job_page).get_data(as_text=True)


def test_only_administrators_reach_the_outbox_and_an_inspector_cannot_deliver(app, client, people):
    people.make("john.carter", "inspector")
    people.make("kenji.sato", "author")
    sign_in(client, "kenji.sato")
    assert client.get("/admin/outbox").status_code == 403
    inspector = app.test_client()
    sign_in(inspector, "john.carter")
    token = csrf_token(inspector.get("/notifications/").get_data(as_text=True))
    assert inspector.post("/admin/outbox/deliver", data={"csrf_token": token}).status_code == 403


def test_the_console_delivers_and_lists_the_outbox(app, settings, sessions, team):
    env = {**os.environ, "EDMS_ENV": "testing", "EDMS_DATABASE_URL": settings.database_url,
           "EDMS_DATA_DIR": str(settings.data_dir)}
    edms = [sys.executable, "-m", "edms.cli"]
    with MailServer() as relay:
        notify(sessions, [team["qa"]], smtp=relay.settings())
        relay_env = {**env, "EDMS_SMTP_HOST": "127.0.0.1", "EDMS_SMTP_PORT": str(relay.port),
                     "EDMS_SMTP_SECURITY": "none", "EDMS_SMTP_SENDER": "edms@kansai-rct.example"}
        delivered = subprocess.run(edms + ["outbox", "deliver"], env=relay_env, capture_output=True, text=True,
                                   timeout=120)
    assert delivered.returncode == 0, delivered.stderr
    assert "sent 1, failed 0, waiting 0" in delivered.stdout
    assert len(relay.received) == 1
    listed = subprocess.run(edms + ["outbox", "list", "--status", "sent"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "akiko.tanaka <akiko.tanaka@example.org> task: OOS-2026-0001 awaits your review" in listed.stdout
    unconfigured = subprocess.run(edms + ["outbox", "deliver"], env=env, capture_output=True, text=True, timeout=120)
    assert "SMTP is not configured" in unconfigured.stdout


def test_a_message_sent_again_after_a_crash_carries_the_same_message_id(sessions, team, monkeypatch):
    """At least once: a delivery killed after the relay took a message, before its outcome was recorded,
    sends it again on the next run; its Message-ID is the same, so the reader's mail program shows one message."""
    from edms.notifications import outbox

    settle = outbox._settle
    crashes = []

    def killed_after_sending(*args, **kwargs):
        if not crashes:
            crashes.append(True)
            raise KeyboardInterrupt("worker killed after the relay accepted the message (simulated)")
        return settle(*args, **kwargs)

    monkeypatch.setattr(outbox, "_settle", killed_after_sending)
    (notification_id,) = notify(sessions, [team["qa"]], smtp=SmtpSettings(host="relay"))
    with MailServer() as relay:
        with pytest.raises(KeyboardInterrupt):
            deliver_pending(sessions, SERVICE, relay.settings(), utc_now(), installation="a1b2c3d4e5f60718")
        assert rows(sessions)[0].status == "pending"  # its outcome was never recorded: sent again
        report = deliver_pending(sessions, SERVICE, relay.settings(), utc_now(), installation="a1b2c3d4e5f60718")
    assert report.sent == 1
    first, second = (mail.message["Message-ID"] for mail in relay.received)
    assert first == second == f"<notification-{notification_id}.a1b2c3d4e5f60718@kansai-rct.example>"
    assert outbox.message_id(notification_id, "0000000000000000", "edms@kansai-rct.example") != first
