"""Issue 16, proven on one machine: two `edms serve` nodes with data directories of their own on one
PostgreSQL, driven at once through the JSON API by the people of three signing lanes and an inspector;
one node is killed with SIGKILL mid-load and started again; every change a node acknowledged is in the
database exactly once, none is half there, and `edms verify` passes (21 CFR 11.10(c), 11.10(e), ALCOA+)."""
from __future__ import annotations

import threading

import pytest

from tests.cluster import load
from tests.cluster.checks import assert_deployment_kept_every_acknowledged_change
from tests.cluster.harness import start_nodes
from tests.support.people import PASSWORD

BUDGET = 260  # requests in all, across the lanes and the inspector (keeps the test near a minute or two)
ACKS_BEFORE_KILL = 30
ACKS_WHILE_DOWN = 15  # acknowledged by the surviving node alone
LIMIT = 60.0  # seconds for each phase, whatever the machine's load


@pytest.mark.req("11.10(c)", "ALCOA+")
def test_two_nodes_under_load_with_one_killed_keep_every_acknowledged_change_once_and_no_half_one(deployment):
    deployment.database.start()
    deployment.database.create_database()
    deployment.init()
    lanes, inspector = load.cast(deployment)
    node_a, node_b = start_nodes(deployment)
    worker = deployment.start_worker()  # None until `edms worker` lands (harness.Switches.worker)

    # Stateless nodes: what one node took in, the other one serves.
    author = lanes[0].author
    created = node_a.request("POST", "/api/v1/documents", {"type": load.OOS, "title": "Cross-node check",
                                                             "values": load.VALUES[load.OOS]},
                             token=node_a.token(author, PASSWORD))
    assert created.status == 201, created.body
    upload = node_a.upload(f"/api/v1/documents/{created.body['id']}/attachments", "cross-node.csv",
                           b"sample,viability_pct\nL2026-0412,72.0\n", token=node_b.token(author, PASSWORD))
    assert upload[0] == 201, upload
    served = node_b.request("GET", f"/api/v1/documents/{created.body['id']}/versions/1/attachments/{upload[1]['id']}",
                            token=node_b.token(author, PASSWORD))
    assert served.status == 200 and "L2026-0412,72.0" in str(served.body)

    ledger, stop = load.Ledger(budget=BUDGET), threading.Event()
    threads = load.start_load(deployment, lanes, inspector, ledger, stop)
    load.wait_until(ledger, ACKS_BEFORE_KILL, threads, limit=LIMIT)
    open_requests = load.in_flight(ledger)
    node_b.kill()  # SIGKILL mid-load: its open requests end with the connection
    if worker is not None:
        worker.kill()  # and the worker, with whatever job it holds
    killed_at = ledger.acknowledged
    load.wait_until(ledger, killed_at + ACKS_WHILE_DOWN, threads, limit=LIMIT)
    assert ledger.acknowledged > killed_at, "the surviving node acknowledged nothing while the other was down"
    node_b.start()
    if worker is not None:
        worker.start()
    restarted_at = ledger.acknowledged
    load.wait_until(ledger, restarted_at + ACKS_WHILE_DOWN, threads, limit=LIMIT)
    stop.set()
    for thread in threads:
        thread.join(timeout=90)
    assert not any(thread.is_alive() for thread in threads), "a lane never finished"
    assert not ledger.server_errors, (ledger.server_errors, node_a.log(), node_b.log())
    assert open_requests >= 1, "the kill came between requests, not under load"
    print("answers 4xx:", dict(ledger.client_errors))
    assert ledger.signatures and ledger.refused and ledger.attachments, "the load acknowledged too little"
    print(f"killed node-b with {open_requests} request(s) in flight after {killed_at} acknowledged changes; "
          f"{ledger.acknowledged} acknowledged in all ({len(ledger.signatures)} signatures and refusals, "
          f"{sum(ledger.exports.values())} exports), {ledger.unknown_outcomes} outcome(s) unknown")
    assert_deployment_kept_every_acknowledged_change(deployment, ledger, inspector, "stored")
