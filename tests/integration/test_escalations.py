"""Overdue tasks are escalated by `edms escalate` (run from cron every few minutes): each overdue task once per
level, to the people holding it, the other holders of the role it waits for and QA, by notification, each
escalation audited; running it again tells nobody twice (issue 12, "Seeing where a case stands")."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from edms.application import cases
from edms.application.escalations import LEVELS, escalate_overdue, level_of
from edms.audit import AuditContext
from edms.audit.models import AuditEvent
from edms.cases import models as cm
from edms.db import transaction
from edms.demo import DEMO_PASSWORD, create_demo_users
from edms.demo_cases import create_demo_cases
from edms.notifications.models import Notification
from edms.timeutil import utc_now
from edms.users.models import User
from edms.workflow.models import TaskEscalation

EU_LOT = "E2026-0107"


@pytest.fixture
def administered(app, organisation_pki):
    """The demo, with the EU case's lot given to the patient now: the 48-hour notification clocks run."""
    services = app.extensions["edms"]
    with transaction(services.sessions) as session:
        create_demo_users(services, session)
    with transaction(services.sessions) as session:
        create_demo_cases(services, session, DEMO_PASSWORD)
    moment = utc_now().replace(microsecond=0)
    with transaction(services.sessions) as session:
        physician = session.scalars(select(User).where(User.username == "lukas.weber")).one()
        case = session.scalars(select(cm.Case).where(cm.Case.lot == EU_LOT)).one()
        cases.record_date(services, session, AuditContext(physician.id, physician.printed_name), physician, case,
                          "administration", moment, None)
    return moment


def escalate(app, now):
    services = app.extensions["edms"]
    with transaction(services.sessions) as session:
        made = escalate_overdue(services, session, AuditContext.system("edms escalate (test)"), now)
    return made


def counts(app):
    with app.extensions["edms"].sessions() as session:
        return (session.scalar(select(func.count()).select_from(TaskEscalation)),
                session.scalar(select(func.count()).select_from(Notification).where(Notification.kind == "deadline")),
                session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "task.escalated")))


def test_levels_are_reached_as_the_task_stays_overdue():
    assert [level_of(delay) for delay in (timedelta(0), timedelta(hours=23), LEVELS[1], timedelta(days=5))] == [1, 1, 2, 3]


@pytest.mark.req("11.10(e)")
def test_an_overdue_task_is_escalated_once_per_level_to_the_role_and_qa_and_audited(app, administered):
    # Before the 48 hours are over nothing is overdue, so nothing is escalated.
    assert escalate(app, administered + timedelta(hours=47)) == []
    assert counts(app) == (0, 0, 0)

    # An hour after the deadline: each overdue task of the EU case is escalated at level 1.
    first = escalate(app, administered + timedelta(hours=49))
    assert first and {e.level for e in first} == {1}
    regulatory = [e for e in first if e.task_key.startswith("case:") and e.task_key.endswith(":regulatory_notification")]
    assert len(regulatory) == 1
    # Regulatory Affairs (who writes it) and QA are told.
    assert {"naoko.ito", "akiko.tanaka", "hiroshi.yamamoto"} <= set(regulatory[0].recipients)
    escalations, notifications, events = counts(app)
    assert escalations == events == len(first)
    assert notifications == sum(len(e.recipients) for e in first)

    # cron runs again a few minutes later: nobody is told twice.
    assert escalate(app, administered + timedelta(hours=49, minutes=5)) == []
    assert counts(app) == (escalations, notifications, events)

    # A day later still overdue: level 2, once.
    second = escalate(app, administered + timedelta(hours=48) + LEVELS[1] + timedelta(minutes=1))
    assert {e.level for e in second} == {2} and len(second) == len(first)
    assert escalate(app, administered + timedelta(hours=48) + LEVELS[1] + timedelta(minutes=6)) == []

    # The audit trail says who was told, why and at which level.
    with app.extensions["edms"].sessions() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "task.escalated")
                                .order_by(AuditEvent.seq.desc())).first()
        changes = json.loads(event.changes)
        assert changes["level"] == {"old": 1, "new": 2}
        assert "overdue" in event.reason and "escalation level 2" in event.reason
        assert event.case_id is not None


def test_edms_escalate_on_the_command_line_reports_what_it_escalated_and_is_safe_to_repeat(app, administered,
                                                                                          monkeypatch):
    from edms.application import escalations
    from edms.cli import commands as cli

    services = app.extensions["edms"]
    monkeypatch.setattr(cli, "_services", lambda settings: services)
    monkeypatch.setattr(cli, "_settings", lambda: services.settings)
    later = administered + timedelta(hours=50)
    monkeypatch.setattr("edms.timeutil.utc_now", lambda: later)
    runner = CliRunner()
    result = runner.invoke(cli.main, ["escalate"])
    assert result.exit_code == 0, result.output
    assert "level 1: told" in result.output
    again = runner.invoke(cli.main, ["escalate"])
    assert again.exit_code == 0 and again.output.strip() == "0 escalation(s)"
    assert escalations.LEVELS[0] == timedelta(0)


def test_a_physicians_overdue_task_is_not_told_to_the_physicians_of_other_sites(app, administered):
    made = escalate(app, administered + timedelta(hours=49))
    physicians = {"yuki.mori", "emily.chen", "lukas.weber"}
    for escalation in made:
        told = physicians & set(escalation.recipients)
        assert told <= {"lukas.weber"}, (escalation.task_key, told)  # the EU case's own physician at most
