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


# How long a test waits for Ray to place an actor: a worker process started, torch imported, the
# data loaded — seconds alone, but over 120 s in a CI run for the session's first one, its two
# cores busy with every other test starting too. A wait, not a measure (``python -m bench engine``).
PLACE_S = 300


def placed(run):
    """``run`` once Ray has placed its actor (see :data:`PLACE_S`)."""
    until(lambda: not run.queued, PLACE_S, "the run placed")
    return run


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


def test_a_run_trains_on_the_worker_any_replica_finds_it_and_it_ends_after_its_grace(ray_engine, cluster):
    """One run's life (one actor: each costs a worker process): trained on the worker node exactly
    as in this process; found from another replica, by its code, and taken back only with its
    owner token; watched from both; ended by its grace period once no owner's page holds it."""
    from bnviz.cluster import remote

    registry, other = remote.RayRegistry(grace_s=5), remote.RayRegistry()  # two replicas
    run = placed(registry.open(SMALL, owner="page-a"))
    try:
        assert run.call("ready") == cluster.worker.node_id  # the head has no CPU to give
        seen = other.find(run.code)
        assert seen is not None and seen is not run
        run.job.step()
        assert run.job.wait_parked(30)
        assert until(lambda: seen.snapshot().step == 1, 30, "the step, seen from the other replica")
        run.job.resume()
        snap = until(lambda: (s := run.snapshot()) is not None and s.state == "finished" and s, 120, "the end")
        assert snap.step == 8 and len(snap.loss) == 8 and snap.captures

        here = Job(SMALL)  # the same run, in this process
        here.start()
        here.join(120)
        alone = here.snapshot()
        np.testing.assert_allclose(snap.loss, alone.loss, rtol=1e-4, atol=1e-5)  # torch threads may differ
        np.testing.assert_allclose(snap.epochs["test_acc"], alone.epochs["test_acc"], atol=1e-6)
        # A run that is not the same fails that comparison by far: one rate changed.
        changed = Job(TrainConfig(**{**SMALL.__dict__, "lr": SMALL.lr * 0.5}))
        changed.start()
        changed.join(120)
        assert np.abs(changed.snapshot().loss - snap.loss).max() > 1e-3
        assert seen.job.readouts().by_hand("conv1", 0)["step"] == 8  # read in the worker, from either replica
        assert len(run.job.readouts().export_weights()) > 10_000

        assert other.find_owned(run.owner_token) is seen
        for wrong in (f"{run.code}.{'x' * 22}", run.code, "", None, "a.b.c", "x" * 100, f"nope.{run.owner_token}"):
            assert other.find_owned(wrong) is None, wrong
        for wrong in ("", None, "../../etc", "x" * 100, "unknown-code"):
            assert other.find(wrong) is None, wrong
        seen.seen("student")  # a watcher on the other replica counts for the owner too
        assert until(lambda: run._present("teacher")["watchers"] == 2, 10, "two watchers")

        other.owner_back(seen, "page-b")  # the owner's second tab, on the other replica
        registry.owner_left(run, "page-a")
        assert run._present("teacher")["owner"] and run.ends_at is None
        other.owner_left(seen, "page-b")  # no owner's page left: the grace period runs
        run._presence_at = 0.0
        assert 0 < run.ends_at - time.monotonic() <= 5
        registry.owner_back(run, "page-a")  # a reload: the grace is called off
        time.sleep(3)
        assert other.find(run.code) is not None
        registry.owner_left(run, "page-a")
        assert until(lambda: other.find(run.code) is None, 30, "the run ended after its grace")
        assert registry.find(run.code) is None
    finally:
        registry.drop(run)


def test_the_pages_of_a_replica_that_crashed_let_go_of_their_run_after_the_lease(ray_engine):
    """A crashed replica never says its owner's page closed: the page's hold is a lease its replica
    renews, so the run goes into its grace period once the renewals stop, not never."""
    from bnviz.cluster import remote

    # Renewed every third of the lease: 10 s to spare for a renewal (3.3 s with a lease of 5 s, and
    # 5.3 s with one of 8 s, were not always enough beside two busy test workers on two cores).
    replica, other = remote.RayRegistry(grace_s=1, lease_s=15), remote.RayRegistry()
    run = placed(replica.open(SMALL, owner="page-a"))
    try:
        # Past a lease, its expiry check (every 3.75 s) and the grace: renewed, the owner's page holds the run.
        time.sleep(22)
        assert other.find(run.code) is not None and run._present("x")["owner"]
        with replica._lock:
            replica._held.clear()  # the replica crashes: no page says it left, nothing renews
        assert until(lambda: other.find(run.code) is None, 45, "the run ended after the lease and the grace")
    finally:
        replica.drop(run)


def test_a_run_beyond_the_clusters_places_waits_and_starts_when_one_frees(ray_engine):
    from bnviz.cluster import remote

    first = placed(remote.REGISTRY.open(LONG, owner="page-a"))  # placed, it holds the place: trained or not
    second = remote.REGISTRY.open(SMALL, owner="page-b")
    third = remote.RayRegistry().open(SMALL, owner="page-c")  # from another replica
    try:
        assert first.place() is None
        assert second.queued and second.snapshot() is None and second.place() == 1
        assert third.queued and third.place() == 2
        third.job.start()  # queued with the run: it trains once placed
        remote.REGISTRY.drop(second)  # its owner left while it waited
        assert until(lambda: third.place() == 1, 10, "the third run moved up")
        remote.REGISTRY.drop(first)
        assert until(lambda: (s := third.snapshot()) is not None and s.step > 0, PLACE_S, "the waiting run to train")
        assert third.place() is None
    finally:
        for run in (first, second, third):
            run.registry.drop(run)


def test_a_run_that_ends_frees_its_place_stays_watchable_and_its_next_job_waits_in_line(ray_engine):
    """A Stop frees the cluster's place at once, as a thread's slot is freed in one process, not
    when the owner's page closes: the run waiting next trains. The stopped run's history and
    readings stay, from any replica; its next job (a Start after the end) waits in line as a new
    run does, under the same code, and trains once a place frees."""
    from bnviz.cluster import remote

    first = placed(remote.REGISTRY.open(LONG, owner="page-a"))
    other = remote.RayRegistry()  # another replica
    second = other.open(SMALL, owner="page-b")
    try:
        first.job.start()
        until(lambda: (s := first.snapshot()) is not None and s.step >= 3, 60, "3 steps")
        assert second.queued and second.place() == 1  # the one CPU is the first run's
        first.job.stop(settled=False)  # as the page's Stop: back once the run has ended
        placed(second)  # at once: the first run's page is still open
        second.job.step()
        assert second.job.wait_parked(30)
        stopped = first.snapshot()
        assert stopped.state == "finished" and stopped.reason_key == "job_stopped" and stopped.step >= 3
        # Its test-time demonstration, measured after the end, follows (its place already freed).
        measured = until(lambda: (s := first.snapshot()).test_time is not None and s, 60, "the demonstration")
        assert not measured.measuring and measured.step == stopped.step
        seen = remote.RayRegistry().find(first.code)  # watched from a third replica: all of it is there
        assert seen.snapshot().step == stopped.step and len(seen.snapshot().loss) == stopped.step
        assert seen.job.readouts().by_hand("conv1", 0)["step"] == stopped.step
        assert len(first.job.readouts().export_weights()) > 10_000

        second.new_job(SMALL)  # a Reset while it holds its place: the job replaced there, no line
        assert not second.queued and second.snapshot().state == "idle" and second.snapshot().step == 0
        old_job = first.job.id
        first.new_job(SMALL)  # a Start after the end: a new job, in line behind the second run
        first.job.start()  # made once it is placed
        assert first.queued and first.place() == 1 and first.owner_token.startswith(first.code)
        assert other.find(first.code) is not None  # a watcher's link still finds it while it waits
        second.job.start()  # ends after its 8 steps: its place goes to the first run's new job
        snap = until(lambda: (s := first.snapshot()) is not None and s.step > 0 and s, PLACE_S, "the new job to train")
        assert first.job.id != old_job and snap.config.epochs == SMALL.epochs
        assert remote.RayRegistry().find_owned(first.owner_token) is not None  # the owner token still holds it
    finally:
        remote.REGISTRY.drop(first)
        other.drop(second)


def test_a_dead_worker_ends_its_run_with_its_history_kept(ray_engine, cluster):
    import ray

    from bnviz.cluster import remote
    from bnviz.cluster.run_actor import waiting_line

    run = placed(remote.REGISTRY.open(LONG, owner="page-a"))
    run.job.start()
    remote.join_line("waiting")  # a training that waits for a place meanwhile
    before = until(lambda: (s := run.snapshot()) is not None and s.step >= 10 and s, 60, "10 steps")
    cluster.kill_worker()
    snap = until(lambda: (s := run.snapshot()) is not None and run.lost and s, 60, "the run lost")
    # The waiting line lives on the head node: the worker's end leaves it, and the place in it (a
    # line made anew would not know the training).
    assert remote.place_in_line("waiting") == 1
    ray.get(waiting_line().leave.remote("waiting"))
    assert snap.state == "failed" and snap.reason_key == "job_lost"
    assert snap.step >= before.step and len(snap.loss) == snap.step  # up to the last snapshot fetched
    drained = np.isfinite(before.loss)  # a step's loss arrives a little after the step
    np.testing.assert_allclose(snap.loss[:before.step][drained], before.loss[drained], rtol=1e-6)
    with pytest.raises(JobRefused) as refused:
        run.job.start()
    assert refused.value.key == "job_lost"
    assert remote.REGISTRY.find(run.code) is run  # this replica still shows what it had

    cluster.add_worker()  # for the tests after this one
