"""A flood of bad bearer tokens (21 CFR 11.10(h), 11.300(d)): throttled per client by the sign-in limiter,
and audited without flooding the audit trail: a few events one by one, then one event per client and window
with the count, so that the recorded counts add up to every refused request."""
import dataclasses
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from edms.audit.models import AuditEvent
from edms.timeutil import utc_now
from tests.conftest import PASSWORD

LIMIT = 20


@pytest.fixture
def throttled_app(settings):
    from edms.app import create_app

    app = create_app(dataclasses.replace(settings, login_rate_limit=f"{LIMIT} per minute"))
    app.config["TESTING"] = True
    yield app
    app.extensions["edms"].engine.dispose()


def _refusals(app) -> list[AuditEvent]:
    with app.extensions["edms"].sessions() as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.action == "api.auth_failed")).all()


@pytest.mark.req("11.10(h)")
def test_two_hundred_bad_tokens_are_throttled_and_leave_a_few_audit_events_whose_counts_add_up(
        throttled_app, monkeypatch):
    client = throttled_app.test_client()
    statuses = [client.get("/api/v1/me", headers={"Authorization": f"Bearer forged-{n}"}).status_code
                for n in range(200)]
    assert statuses[:LIMIT] == [401] * LIMIT and set(statuses[LIMIT:]) == {429}
    assert len(_refusals(throttled_app)) == 5  # the first of the window, one by one

    # The window closes: the next refusal (from anyone) writes the window's count.
    later = utc_now() + timedelta(minutes=2)
    monkeypatch.setattr("edms.application.access.utc_now", lambda: later)
    client.get("/api/v1/me", headers={"Authorization": "Bearer forged-after"})
    events = _refusals(throttled_app)
    counts = [json.loads(event.changes)["count"]["new"] for event in events]
    assert len(events) <= 7 and sum(counts) == 201, counts
    summary = next(event for event in events if json.loads(event.changes)["count"]["new"] > 1)
    assert summary.object_id == "127.0.0.1" and "195 further requests refused" in summary.reason


@pytest.mark.req("11.10(h)")
def test_a_valid_token_is_not_counted_against_its_client(throttled_app, people):
    people.make("kenji.sato", "author")
    client = throttled_app.test_client()
    token = client.post("/api/v1/auth/token", json={"username": "kenji.sato", "password": PASSWORD}).json
    headers = {"Authorization": f"Bearer {token['token']}"}
    assert {client.get("/api/v1/me", headers=headers).status_code for _ in range(LIMIT + 5)} == {200}
