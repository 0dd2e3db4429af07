"""The multi-process tests of issue 16 (PostgreSQL clusters, several `edms serve` nodes): run serially by
`scripts/cluster_test.sh` (the `.ci/run` stage multi-node), never by the parallel suite, whose browser tests
they would starve. Without EDMS_CLUSTER_TESTS=1 they are deselected, not skipped: the suite's report
stays about the suite."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.harness import Deployment, start_redis, start_softhsm
from tests.cluster.postgres import Cluster

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    if os.environ.get("EDMS_CLUSTER_TESTS") == "1":
        return
    mine = [item for item in items if HERE in Path(str(item.path)).parents]
    if mine:
        config.hook.pytest_deselected(items=mine)
        items[:] = [item for item in items if item not in mine]


@pytest.fixture
def primary() -> Iterator[Cluster]:
    cluster = Cluster("primary")
    yield cluster
    cluster.stop()


@pytest.fixture
def standby() -> Iterator[Cluster]:
    cluster = Cluster("standby")
    yield cluster
    cluster.stop()


@pytest.fixture
def deployment(tmp_path, primary) -> Iterator[Deployment]:
    """The shared part of the layout, on `primary`; the test starts the database and the nodes it needs."""
    built = Deployment(root=tmp_path, database=primary)
    if built.switches.keys == "softhsm":
        start_softhsm(built)
    redis = start_redis(built) if built.switches.rate_limits == "redis" else None
    yield built
    built.stop()  # every node, even when the test failed
    if redis is not None:
        redis.kill()
        redis.wait(timeout=30)
