"""The Ray engine against a real local cluster (tests/cluster/conftest.py: a head and one worker
node with one CPU), and the in-process default without Ray."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from bnviz.training import Job, JobRefused, TrainConfig

SMALL = TrainConfig(epochs=1, train_limit=512, test_limit=256, batch_size=64, hist_every=2)  # 8 steps
LONG = TrainConfig(epochs=50, train_limit=2000, test_limit=256, batch_size=64, hist_every=5)  # 1600 steps


def until(ok, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := ok():
            return value
        time.sleep(0.2)
    raise AssertionError(f"waited {timeout} s for {what}")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # free once closed: nothing listens there


def test_without_the_setting_trainings_stay_in_this_process_and_ray_is_never_imported():
    code = ("from bnviz.cluster import engine; from bnviz.training import watching; import sys; "
            "assert engine.current().kind == 'local' and engine.current().fallback is None; "
            "assert engine.registry() is watching.REGISTRY; print('ray' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k not in ("BNVIZ_ENGINE", "RAY_ADDRESS")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_an_unreachable_head_falls_back_to_this_process_within_seconds(monkeypatch):
    from bnviz.cluster import engine

    address = f"127.0.0.1:{closed_port()}"
    monkeypatch.setenv("BNVIZ_ENGINE", "ray")
    monkeypatch.setenv("RAY_ADDRESS", address)
    engine.reset()
    began = time.monotonic()
    try:
        chosen = engine.current()
        assert chosen.kind == "local"
        assert chosen.fallback == ("engine_unreachable", {"address": address})
        assert time.monotonic() - began < 10  # ray.init alone retries such an address for minutes
        monkeypatch.setenv("RAY_ADDRESS", f"ray://{address}")
        engine.reset()
        assert engine.current().fallback[0] == "engine_client_mode"
    finally:
        engine.reset()


def test_a_run_trains_on_the_worker_node_as_it_would_in_this_process(ray_engine, cluster):
    from bnviz.cluster import remote

    run = remote.REGISTRY.open(SMALL, owner="page-a")
    try:
        assert not run.queued
        assert run.call("ready") == cluster.worker.node_id  # the head has no CPU to give
        run.job.start()
        snap = until(lambda: (s := run.snapshot()) is not None and s.state == "finished" and s, 120, "the end")
        assert snap.step == 8 and len(snap.loss) == 8 and snap.captures

        here = Job(SMALL)  # the same run, in this process
        here.start()
        here.join(120)
        alone = here.snapshot()
        np.testing.assert_allclose(snap.loss, alone.loss, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(snap.epochs["test_acc"], alone.epochs["test_acc"], atol=1e-6)
        # A run that is not the same fails that comparison by far: one rate changed.
        other = Job(TrainConfig(**{**SMALL.__dict__, "lr": SMALL.lr * 0.5}))
        other.start()
        other.join(120)
        assert np.abs(other.snapshot().loss - snap.loss).max() > 1e-3

        assert run.job.readouts().by_hand("conv1", 0)["step"] == 8  # readings come from the worker
        weights = run.job.readouts().export_weights()
        assert len(weights) > 10_000
    finally:
        remote.REGISTRY.drop(run)


def test_any_replica_finds_the_run_and_only_the_owner_token_takes_it_back(ray_engine):
    from bnviz.cluster import remote

    run = remote.REGISTRY.open(SMALL, owner="page-a")
    try:
        other = remote.RayRegistry()  # another web replica's view of the cluster
        seen = other.find(run.code)
        assert seen is not None and seen is not run
        run.job.step()
        assert run.job.wait_parked(30)
        assert until(lambda: seen.snapshot().step == 1, 30, "the step, seen from the other replica")
        assert other.find_owned(run.owner_token) is seen
        for wrong in (f"{run.code}.{'x' * 22}", run.code, "", None, "a.b.c", "x" * 100, f"nope.{run.owner_token}"):
            assert other.find_owned(wrong) is None, wrong
        for wrong in ("", None, "../../etc", "x" * 100, "unknown-code"):
            assert other.find(wrong) is None, wrong

        seen.seen("student")  # a watcher on the other replica counts for the owner too
        assert until(lambda: run._present("x")["watchers"] == 2, 10, "two watchers")
        other.owner_back(seen, "page-b")
        remote.REGISTRY.owner_left(run, "page-a")
        assert run._present("x")["owner"]  # the owner's other tab, on the other replica, holds it
    finally:
        remote.REGISTRY.drop(run)
    assert until(lambda: other.find(run.code) is None, 30, "the run gone for the other replica too")


def test_a_run_whose_owner_left_ends_after_its_grace_period_unless_the_owner_comes_back(ray_engine):
    from bnviz.cluster import remote

    registry = remote.RayRegistry(grace_s=2)
    run = registry.open(SMALL, owner="page-a")
    other = remote.RayRegistry()
    registry.owner_left(run, "page-a")
    assert 0 < run.ends_at - time.monotonic() <= 2
    registry.owner_back(run, "page-b")  # a reload, on any replica: the grace is called off
    time.sleep(3)
    assert other.find(run.code) is not None and run.ends_at is None
    registry.owner_left(run, "page-b")
    assert until(lambda: other.find(run.code) is None, 30, "the run ended after its grace")
    assert registry.find(run.code) is None


def test_a_run_beyond_the_clusters_places_waits_and_starts_when_one_frees(ray_engine):
    from bnviz.cluster import remote

    first = remote.REGISTRY.open(LONG, owner="page-a")
    first.job.start()
    second = remote.REGISTRY.open(SMALL, owner="page-b")
    try:
        assert second.queued and second.snapshot() is None
        second.job.start()  # queued with the run: it trains once placed
        time.sleep(2)
        assert second.queued
        remote.REGISTRY.drop(first)
        snap = until(lambda: (s := second.snapshot()) is not None and s.state == "finished" and s, 120,
                     "the waiting run to train")
        assert snap.step == 8
    finally:
        remote.REGISTRY.drop(second)


def test_a_dead_worker_ends_its_run_with_its_history_kept_and_a_new_start_works(ray_engine, cluster):
    from bnviz.cluster import remote

    run = remote.REGISTRY.open(LONG, owner="page-a")
    run.job.start()
    before = until(lambda: (s := run.snapshot()) is not None and s.step >= 20 and s, 60, "20 steps")
    cluster.kill_worker()
    snap = until(lambda: (s := run.snapshot()) is not None and run.lost and s, 60, "the run lost")
    assert snap.state == "failed" and snap.reason_key == "job_lost"
    assert snap.step >= before.step and len(snap.loss) == snap.step  # up to the last snapshot fetched
    drained = np.isfinite(before.loss)  # a step's loss arrives a little after the step
    np.testing.assert_array_equal(snap.loss[:before.step][drained], before.loss[drained])
    with pytest.raises(JobRefused) as refused:
        run.job.start()
    assert refused.value.key == "job_lost"
    assert remote.REGISTRY.find(run.code) is run  # this replica still shows what it had

    cluster.add_worker()
    again = remote.REGISTRY.open(SMALL, owner="page-a")
    try:
        again.job.start()
        assert until(lambda: (s := again.snapshot()) is not None and s.state == "finished", 120, "a new run")
    finally:
        remote.REGISTRY.drop(again)
