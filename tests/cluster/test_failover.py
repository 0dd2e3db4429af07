"""Issue 16, proven on one machine: a PostgreSQL primary with a synchronous standby (streaming replication,
`synchronous_standby_names = '*'`, `synchronous_commit = remote_apply`). Two nodes sign against the primary;
mid-load the standby is promoted, the primary stopped at once, and the nodes restarted with the new
primary's URL. Every signature a node acknowledged to its signer is on the new primary, nothing is half
there, the people go on signing, and `edms verify` passes (21 CFR 11.10(c), 11.10(e), 11.70, ALCOA+)."""
from __future__ import annotations

import threading

import pytest

from tests.cluster import load
from tests.cluster.checks import assert_deployment_kept_every_acknowledged_change
from tests.cluster.harness import restart_against, start_nodes

BUDGET = 220
ACKS_BEFORE_FAILOVER = 30
ACKS_AFTER = 15
LIMIT = 60.0


@pytest.mark.req("11.10(c)", "11.70", "ALCOA+")
def test_promoting_the_synchronous_standby_while_signing_loses_no_acknowledged_signature(deployment, standby):
    primary = deployment.database
    primary.start(synchronous_standby=True)
    standby.start_as_standby_of(primary)
    primary.wait_for_synchronous_standby()
    primary.create_database()
    deployment.init()
    lanes, inspector = load.cast(deployment)
    start_nodes(deployment)
    deployment.start_worker()  # restarted against the new primary with the nodes (harness.restart_against)

    ledger, stop = load.Ledger(budget=BUDGET), threading.Event()
    threads = load.start_load(deployment, lanes, inspector, ledger, stop)
    load.wait_until(ledger, ACKS_BEFORE_FAILOVER, threads, limit=LIMIT)
    with ledger.lock:
        ledger.failover = True  # from here until the nodes answer from the new primary, a 5xx is honest
        acknowledged_on_primary = dict(ledger.signatures)
    standby.promote()  # the old primary's commits now wait for a standby that is gone: none is acknowledged
    primary.stop_now()
    restart_against(deployment, standby)
    with ledger.lock:
        ledger.failover = False
        switched_at = ledger.acknowledged
    load.wait_until(ledger, switched_at + ACKS_AFTER, threads, limit=LIMIT)
    stop.set()
    for thread in threads:
        thread.join(timeout=90)
    assert not any(thread.is_alive() for thread in threads), "a lane never finished"
    assert not ledger.server_errors, (ledger.server_errors, [node.log() for node in deployment.nodes])
    assert acknowledged_on_primary, "no signature was acknowledged before the failover"
    assert len(ledger.signatures) > len(acknowledged_on_primary), "nobody signed on the new primary"
    print(f"failover after {len(acknowledged_on_primary)} acknowledged signatures; {len(ledger.signatures)} in all, "
          f"{ledger.unknown_outcomes} outcome(s) unknown")
    assert_deployment_kept_every_acknowledged_change(deployment, ledger, inspector, "stored on the new primary")
