"""One real Ray cluster on this machine for the engine's tests (harness/ray_cluster.py: a head
that trains nothing and one worker node with one CPU, so the cluster holds one run at a time)."""

from __future__ import annotations

import os

import pytest

from harness.ray_cluster import LocalCluster


@pytest.fixture(scope="session")
def local_cluster():
    made = LocalCluster()
    made.open_line()  # the app's waiting line, made once here and kept (see LocalCluster.end_runs)
    yield made
    made.shutdown()


@pytest.fixture
def cluster(local_cluster):
    """The cluster, empty (no run of a test before this one holds its CPU, nobody in its waiting
    line), with a worker node again if a test before this one killed it and failed."""
    if local_cluster.worker is None:
        local_cluster.add_worker()
    local_cluster.end_runs()
    return local_cluster


@pytest.fixture
def ray_engine(cluster, monkeypatch):
    """This test process on the Ray engine, joined to ``cluster``; left again afterwards."""
    import ray

    from bnviz.cluster import engine

    monkeypatch.setenv("BNVIZ_ENGINE", "ray")
    monkeypatch.setenv("RAY_ADDRESS", cluster.address)
    engine.reset()
    assert engine.current().kind == "ray", engine.current()
    yield engine
    from bnviz.cluster import remote

    remote.REGISTRY.drop_all()
    ray.shutdown()
    engine.reset()
    os.environ.pop("RAY_ADDRESS", None)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items):
    """The cluster's tests share one cluster: under pytest-xdist they stay on one worker. They
    mostly wait (leases, grace periods, a killed node's end, actors placed: ~360 s alone), so
    scripts/test.sh runs them beside the two workers (``waits``)."""
    for item in items:
        if item.nodeid.replace("\\", "/").startswith("tests/cluster/"):
            item.add_marker(pytest.mark.xdist_group("cluster"))
            item.add_marker(pytest.mark.waits)
