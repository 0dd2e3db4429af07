"""Sign-in limits shared by every app node (issue #16): with `rate_limit_storage` pointing at one Redis, failed
sign-ins on node A count on node B, whether B is another app instance or another `edms serve` process; the
throttled refusals are audited by whichever node refuses, and the audited counts of all nodes add up."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time

import pytest
import redis
from sqlalchemy import select

from edms.app import create_app
from edms.audit.models import AuditEvent
from tests.conftest import PASSWORD
from tests.support.redis_server import RedisServer
from tests.support.server import LOOPBACK, Server, environment

ACCOUNT_LIMIT = 3


@pytest.fixture
def shared_redis(tmp_path):
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(directory).start()
    yield server
    server.stop()


def _node_settings(settings, uri: str):
    return dataclasses.replace(settings, rate_limit_storage=uri, login_rate_limit=f"{ACCOUNT_LIMIT} per minute",
                               login_client_rate_limit="1000 per minute")


@pytest.fixture
def nodes(settings, shared_redis):
    """Two app instances (two nodes' worth of engines, services and refusal windows) on one database and one
    Redis."""
    apps = [create_app(_node_settings(settings, shared_redis.uri)) for _ in range(2)]
    yield apps
    for app in apps:
        app.extensions["edms"].engine.dispose()


def _token(client, password: str):
    return client.post("/api/v1/auth/token", json={"username": "kenji.sato", "password": password})


def _refusals(app) -> list[AuditEvent]:
    with app.extensions["edms"].sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.refused")
                                    .order_by(AuditEvent.seq)))


def _people(app):
    from tests.support.people import People

    services = app.extensions["edms"]
    return People(settings=services.settings, sessions=services.sessions)


@pytest.mark.req("11.300(d)")
def test_failed_sign_ins_on_one_node_throttle_the_name_on_the_other(nodes, shared_redis):
    node_a, node_b = nodes
    _people(node_a).make("kenji.sato", "author")
    for _ in range(ACCOUNT_LIMIT):
        assert _token(node_a.test_client(), "not-the-password").status_code == 401
    refused = _token(node_b.test_client(), PASSWORD)  # the right password, but the name is throttled everywhere
    assert refused.status_code == 429 and refused.json["error"]["code"] == "too_many_attempts"
    [event] = _refusals(node_b)
    assert json.loads(event.changes)["username"]["new"] == "kenji.sato" and "password not checked" in event.reason
    # The counts live in Redis, not in either process: emptied there, the name may sign in again on both.
    store = redis.Redis.from_url(shared_redis.uri)
    assert any(b"sign-in-account" in key for key in store.keys("*"))
    store.flushall()
    assert _token(node_b.test_client(), PASSWORD).status_code == 201
    store.close()


@pytest.mark.req("11.300(d)")
def test_refusals_are_audited_by_whichever_node_refuses_and_add_up(nodes):
    node_a, node_b = nodes
    _people(node_a).make("kenji.sato", "author")
    for _ in range(ACCOUNT_LIMIT):
        _token(node_b.test_client(), "not-the-password")
    for node in (node_a, node_b, node_a, node_b):
        assert _token(node.test_client(), "not-the-password").status_code == 429
    events = _refusals(node_a)
    # Each node keeps its own windows (RefusalWindows): within a window's first refusals every one is
    # recorded at once, so four refusals on two nodes are four events, none lost and none counted twice.
    assert [json.loads(event.changes)["count"]["new"] for event in events] == [1, 1, 1, 1]


@pytest.mark.req("11.300(d)")
def test_an_edms_serve_process_counts_failures_made_on_another_node(settings, organisation_pki, shared_redis,
                                                                   tmp_path):
    node_settings = _node_settings(settings, shared_redis.uri)
    node_a = create_app(node_settings)
    _people(node_a).make("kenji.sato", "author")
    env = environment(settings)
    env.update(EDMS_RATE_LIMIT_STORAGE=shared_redis.uri, EDMS_LOGIN_RATE_LIMIT=f"{ACCOUNT_LIMIT} per minute",
               EDMS_LOGIN_CLIENT_RATE_LIMIT="1000 per minute")
    node_b = Server(settings, tmp_path)
    log = open(tmp_path / "node-b.log", "wb")  # noqa: SIM115 (closed with the process)
    node_b.process = subprocess.Popen(
        [sys.executable, "-m", "edms.cli", "serve", "--host", LOOPBACK, "--port", str(node_b.port), "--threads", "4"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        _wait_for(node_b, tmp_path)
        for _ in range(ACCOUNT_LIMIT):
            assert _token(node_a.test_client(), "not-the-password").status_code == 401
        answer = node_b.request("POST", "/api/v1/auth/token", {"username": "kenji.sato", "password": PASSWORD})
        assert answer.status == 429, answer.body
        # And the other way round: a name failing on the process is throttled in this one.
        _people(node_a).make("emi.nakamura", "qa")
        for _ in range(ACCOUNT_LIMIT):
            assert node_b.request("POST", "/api/v1/auth/token",
                                  {"username": "emi.nakamura", "password": "not-the-password"}).status == 401
        assert node_a.test_client().post("/api/v1/auth/token", json={
            "username": "emi.nakamura", "password": PASSWORD}).status_code == 429
    finally:
        node_b.stop()
        node_a.extensions["edms"].engine.dispose()


def _wait_for(server: Server, tmp_path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.process is not None
        if server.process.poll() is not None:
            raise RuntimeError((tmp_path / "node-b.log").read_text(errors="replace")[-4000:])
        try:
            if server.request("GET", "/api/v1/openapi.json", timeout=2).status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"edms serve did not answer within {timeout} s")
