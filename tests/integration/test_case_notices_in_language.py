"""The people a case or a record concerns read what they are told in their own language (issue #12:
"Notifications (and their e-mails) are written in the recipient's language; every subject reads as a
sentence").

On the signed case of tests/support/signed_case.py, one person in each pair has chosen Japanese on their
settings page and the other kept English: owners learn of an ownership transfer and of a withdrawal, the
treating physician of a status change, of being named on or taken off a case and of the QA release, QA of
the physician's decision; and on the demo's EU case, whose 48-hour clocks run out, QA and Regulatory
Affairs learn of an escalated overdue task. Each reads the subject and the body in their language, status
words, record descriptions and step labels included, while the audit trail stays in English."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from edms.application import cases, concerned, drafting
from edms.application.assignments import owners_instead_of
from edms.application.escalations import _describe
from edms.application.tasks import SIGN, Task
from edms.application.unit_of_work import command
from edms.audit.models import AuditEvent
from edms.cases import models as cm
from edms.db import transaction
from edms.documents import models as dm
from edms.notifications.models import Notification
from edms.timeutil import utc_now
from edms.users.models import User
from tests.integration.test_case_people import HANDOVER, _justification_values, _sign
from tests.integration.test_escalations import administered, escalate  # noqa: F401
from tests.support.people import acting

WITHDRAWAL = "The OOS was traced to a sampling error: the lot is within specification."
CANCELLATION = "The patient's condition no longer allows the infusion."


def _user(session, username: str) -> User:
    return session.scalar(select(User).where(User.username == username))


def _reads_japanese(services, *usernames: str) -> None:
    with transaction(services.sessions) as session:
        for username in usernames:
            _user(session, username).language = "ja"


def _told(services, username: str, kind: str) -> list[tuple[str, str]]:
    """(subject, body) of each notification of `kind` to `username`, oldest first."""
    with services.sessions() as session:
        query = (select(Notification).join(User, Notification.recipient_id == User.id)
                 .where(User.username == username, Notification.kind == kind).order_by(Notification.id))
        return [(n.subject, n.body) for n in session.scalars(query)]


def _document(services, document_id: int) -> tuple[str, str, int]:
    """The record's number, the title and number of its latest version."""
    with services.sessions() as session:
        document = session.get(dm.Document, document_id)
        return document.number, document.latest.title, document.latest.version


def _of_type(services, signed_case, type_key: str) -> int:
    with services.sessions() as session:
        return next(d for d in signed_case.documents if session.get(dm.Document, d).type_key == type_key)


def _reference(services, case_id: int) -> str:
    with services.sessions() as session:
        return session.get(cm.Case, case_id).reference


@pytest.fixture
def services(app):
    return app.extensions["edms"]


@pytest.mark.req("ERES-legibility")
def test_the_previous_owner_reads_an_ownership_transfer_in_japanese_and_the_new_owner_in_english(
        signed_case, services):
    oos_id = _of_type(services, signed_case, "oos_notification")
    with services.sessions() as session:
        previous = _user(session, "kenji.sato")
        assert session.get(dm.Document, oos_id).owner_id == previous.id
        successor = owners_instead_of(services, session, session.get(dm.Document, oos_id))[0]
        successor_name, successor_username = successor.printed_name, successor.username
    _reads_japanese(services, "kenji.sato")
    with command(services.sessions) as session:
        admin = _user(session, "takeshi.ogawa")
        drafting.transfer_ownership(services, session, acting(admin), admin, session.get(dm.Document, oos_id),
                                    _user(session, successor_username), HANDOVER)
    number, title, _ = _document(services, oos_id)

    [(subject, body)] = _told(services, "kenji.sato", "ownership")
    assert subject == f"{number} ({title}) の所有者が {successor_name} に変更されました。"
    assert body.startswith(f"システム管理者が {number} ({title}) の所有者を {successor_name} に変更しました。")
    assert HANDOVER in body
    [(subject, body)] = _told(services, successor_username, "ownership")
    assert subject == f"You are now the owner of {number} ({title})."
    assert body.startswith(f"An administrator made you the owner of {number} ({title}) with this reason:")


@pytest.mark.req("ERES-legibility")
def test_a_withdrawal_reaches_the_japanese_owner_in_japanese_and_the_english_physician_in_english(
        signed_case, services):
    oos_id = _of_type(services, signed_case, "oos_notification")
    _reads_japanese(services, "kenji.sato")
    with command(services.sessions) as session:
        qa = _user(session, "hiroshi.yamada")
        drafting.withdraw(services, session, acting(qa), qa, session.get(dm.Document, oos_id), WITHDRAWAL)
    number, title, _ = _document(services, oos_id)

    [(subject, body)] = _told(services, "kenji.sato", "withdrawn")
    assert subject == f"{number} ({title}) が取り下げられました。"
    assert body == f"Hiroshi Yamada が {number} ({title}) を取り下げました。理由は次のとおりです。\n\n{WITHDRAWAL}"
    [(subject, body)] = _told(services, "haruto.ito", "withdrawn")
    assert subject == f"{number} ({title}) was withdrawn."
    assert body == f"Hiroshi Yamada withdrew {number} ({title}) with this reason:\n\n{WITHDRAWAL}"


@pytest.mark.req("ERES-legibility")
def test_a_japanese_physician_reads_the_status_change_of_their_case_with_japanese_status_words(
        signed_case, services):
    _reads_japanese(services, "haruto.ito")
    with command(services.sessions) as session:
        qa = _user(session, "emi.nakamura")
        cases.change_status(services, session, acting(qa), qa, session.get(cm.Case, signed_case.case_id),
                            cm.CANCELLED, CANCELLATION)
    reference = _reference(services, signed_case.case_id)

    [(subject, body)] = _told(services, "haruto.ito", "case")
    assert subject == f"案件 {reference} のステータスが「中止」になりました。"
    assert "ステータスを「進行中」から「中止」に変更しました" in body and CANCELLATION in body
    # The audit trail keeps the statuses as data, in English.
    with services.sessions() as session:
        queued = session.scalars(select(AuditEvent).where(AuditEvent.action == "case.status_changed")).one()
    assert '"cancelled"' in queued.changes


@pytest.mark.req("ERES-legibility")
def test_the_physician_taken_off_a_case_reads_it_in_japanese_and_the_one_named_in_english(signed_case, services):
    _reads_japanese(services, "haruto.ito")
    with command(services.sessions) as session:
        admin, case = _user(session, "takeshi.ogawa"), session.get(cm.Case, signed_case.case_id)
        cases.change_physician(services, session, acting(admin), admin, case, _user(session, "mei.suzuki"), HANDOVER)
    reference = _reference(services, signed_case.case_id)

    [(subject, body)] = _told(services, "haruto.ito", "case")
    assert subject == f"案件 {reference} の担当医師が Dr Mei Suzuki に変更されました。"
    assert HANDOVER in body and "担当医師" in body
    [(subject, body)] = _told(services, "mei.suzuki", "case")
    assert subject == f"You are now the treating physician of case {reference}."
    assert body == (f"An administrator named you the treating physician of case {reference} with this reason:\n\n"
                    f"{HANDOVER}")


@pytest.mark.req("ERES-legibility")
def test_a_japanese_physician_reads_the_qa_release_of_their_case_in_japanese(signed_case, services):
    release_id = _of_type(services, signed_case, "qa_release")
    _reads_japanese(services, "haruto.ito")
    with command(services.sessions) as session:
        release, case = session.get(dm.Document, release_id), session.get(cm.Case, signed_case.case_id)
        concerned.signed(session, acting(_user(session, "hiroshi.yamada")), services.settings.smtp,
                         services.document_types["qa_release"], services.regimes[case.regime_key], release, case)
    number, title, version = _document(services, release_id)
    reference = _reference(services, signed_case.case_id)

    [(subject, body)] = _told(services, "haruto.ito", "approved")
    assert subject == f"案件 {reference} の {number} 第{version}版（{title}） が承認されました。"
    assert body == (f"ご担当の案件 {reference} の {number} 第{version}版（{title}） について、すべての署名手順が"
                    "完了しました。この版は承認され、発効しています。")


@pytest.mark.req("ERES-legibility")
def test_qa_reads_the_treating_physicians_decision_each_in_their_own_language(signed_case, services, monkeypatch):
    # The fixture's case has no ethics record, which the regime wants approved before the justification is
    # signed; that gate is not what this test is about.
    monkeypatch.setattr(services, "record_gates", ())
    _reads_japanese(services, "emi.nakamura")
    with command(services.sessions) as session:
        physician = _user(session, "haruto.ito")
        document = drafting.create_document(services, session, acting(physician), physician, "physician_justification",
                                            title="Justification for the OOS lot L2026-0412 (PT-7Q4X)",
                                            raw_values=_justification_values(services, signed_case),
                                            case_id=signed_case.case_id)
        drafting.submit(services, session, acting(physician), physician, document)
        document_id = document.id
    _sign(services, "haruto.ito", document_id)
    _sign(services, "haruto.ito", document_id)
    number, title, version = _document(services, document_id)
    reference = _reference(services, signed_case.case_id)

    [(subject, body)] = _told(services, "emi.nakamura", "approved")
    assert subject == f"案件 {reference} の医師の記録 {number} 第{version}版（{title}） が承認されました。"
    assert body == f"案件 {reference} における担当医師の判断である {number} 第{version}版（{title}） が承認され、発効しました。"
    [(subject, body)] = _told(services, "hiroshi.yamada", "approved")
    assert subject == f"The physician's record {number} version {version} ({title}) of case {reference} was approved."
    assert body == (f"{number} version {version} ({title}), a decision of the treating physician in case {reference}, "
                    "is approved and effective.")


@pytest.mark.req("ERES-legibility")
def test_an_escalated_overdue_task_is_read_in_each_recipients_language_and_audited_in_english(
        app, administered):  # noqa: F811
    _reads_japanese(app.extensions["edms"], "akiko.tanaka")
    made = escalate(app, administered + timedelta(hours=49))
    [regulatory] = [e for e in made if e.task_key.endswith(":regulatory_notification")]
    assert {"akiko.tanaka", "hiroshi.yamamoto"} <= set(regulatory.recipients)
    with app.extensions["edms"].sessions() as session:
        reference = session.scalars(select(cm.Case).where(cm.Case.lot == "E2026-0107")).one().reference
    told = {username: [(subject, body) for subject, body in _told(app.extensions["edms"], username, "deadline")
                       if reference in subject and ("Regulatory notification" in subject or "規制当局" in subject)]
            for username in ("akiko.tanaka", "hiroshi.yamamoto")}

    [(subject, body)] = told["akiko.tanaka"]
    assert subject == (f"期限を過ぎたタスクがレベル1にエスカレーションされました：作成が必要な記録「規制当局への届出・報告」"
                       f"（案件 {reference}）。")
    assert body.startswith(f"このタスクは期限を過ぎています：作成が必要な記録「規制当局への届出・報告」（案件 {reference}）。")
    assert "1時間0分 超過しています。エスカレーションレベルは 1 です。" in body and "品質保証部門" in body
    [(subject, body)] = told["hiroshi.yamamoto"]
    assert subject == (f"An overdue task was escalated to level 1: the record \"Regulatory notification\" to create "
                       f"(case {reference}).")
    assert "and is 1 h 0 min late; this is escalation level 1." in body

    with app.extensions["edms"].sessions() as session:
        reasons = [e.reason for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "task.escalated"))]
    assert (f"the record \"Regulatory notification\" to create (case {reference}) is overdue (due "
            in "\n".join(reasons))
    assert all("escalation level 1." in reason and "期限" not in reason for reason in reasons)


def test_an_overdue_signature_is_described_with_its_step_label_in_each_language(services):
    step = services.document_types["qa_release"].steps[-1]
    task = Task(SIGN, "QA release of the OOS lot E2026-0107", "qa_release", utc_now(), document_id=1,
                document_number="REL-2026-0001", version=1, case_id=1, case_reference="CASE-2026-0004",
                step=step.label, step_name=step.name)
    described = _describe(services, task)
    assert described.en == f"the step \"{step.label.en}\" of REL-2026-0001 (case CASE-2026-0004)"
    assert described.ja == f"REL-2026-0001 のステップ「{step.label.ja}」（案件 CASE-2026-0004）"
    assert step.label.ja != step.label.en
