"""The batched trainings — the learning-rate sweep and a class's job — on the Ray engine, against a
real local cluster (tests/cluster/conftest.py: one worker node with one CPU): each trains on the
worker as it would in this process, waits in the cluster's line when the place is taken, and
frees its place as soon as it has ended."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from bnviz.data.fashion_mnist import load_fashion_mnist
from bnviz.training import wide
from bnviz.training.class_job import ClassJob, Setup
from bnviz.training.sweep import SweepConfig
from bnviz.training.sweep_job import SweepJob
from bnviz.training.sweep_rates import log_grid
from bnviz.ui import i18n
from bnviz.ui.strings import STRINGS
from tests.cluster.test_engine import LONG, PLACE_S, placed, until
from tests.pages.conftest import APP, no_traceback, set_language

ZH = STRINGS["zh"]

TINY = SweepConfig(lrs=(0.1, 1.0), epochs=1, train_limit=512, test_limit=256, batch_size=64)  # 8 steps, 4 models
CLASS = Setup(epochs=1, train_limit=512, test_limit=256, batch_size=64)  # 8 steps
STUDENTS = (wide.Member(0.1, batch_norm=True, seed=1), wide.Member(0.01, batch_norm=False, optimizer="adam", seed=2))


def free_cpus() -> float:
    import ray

    return ray.available_resources().get("CPU", 0)


def here(config: SweepConfig):
    """The same sweep in this process."""
    job = SweepJob(config, load_fashion_mnist(fallback_synthetic=True)).start()
    assert job.join(120)
    return job.snapshot()


def test_a_sweep_trains_on_the_worker_as_here_and_frees_its_place_when_it_ends(ray_engine, cluster):
    import ray

    from bnviz.cluster.background import RemoteBackground

    def not_here():
        raise AssertionError("the replica loaded the data: the sweep's node does")

    sweep = ray_engine.start_sweep(TINY, not_here)
    assert isinstance(sweep, RemoteBackground)
    until(lambda: not sweep.queued, PLACE_S, "the sweep placed")
    assert ray.get(sweep.actor.ready.remote(), timeout=30) == cluster.worker.node_id
    assert free_cpus() == 0  # the sweep holds the worker's one CPU
    assert sweep.join(120)
    snap = sweep.snapshot()
    assert snap.state == "finished" and snap.step == TINY.total_steps and not sweep.lost
    alone = here(TINY)
    for model in snap.losses:
        np.testing.assert_allclose(snap.losses[model], alone.losses[model], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(snap.accuracy[model], alone.accuracy[model], atol=1e-6)
    # A sweep that is not the same fails that comparison by far: one rate changed.
    other = here(dataclasses.replace(TINY, lrs=(0.05, 1.0)))
    assert np.abs(other.losses["lenet"] - snap.losses["lenet"]).max() > 1e-3
    assert until(lambda: free_cpus() == 1, 30, "the place freed at the end")
    assert sweep.snapshot() is snap and not sweep.alive  # the page keeps showing the results


def test_a_sweep_waits_for_a_place_leaves_the_line_when_stopped_and_ends_if_nobody_asks(ray_engine, monkeypatch):
    import ray

    from bnviz.cluster import remote
    from bnviz.cluster.background import RemoteBackground, remote_sweep
    from bnviz.cluster.run_actor import waiting_line
    from bnviz.training import classes
    from tests.pages import test_class_page as class_page

    holder = placed(remote.REGISTRY.open(LONG, owner="page-a"))  # a run holds the one place
    try:
        at = AppTest.from_file(APP, default_timeout=60).run()  # the tuning page on this replica
        at.switch_page("pages/tuning.py").run()
        at.button(key="sweep_start").click().run()
        no_traceback(at)
        sweep = at.session_state["_sweep_job"]
        assert isinstance(sweep, RemoteBackground) and sweep.queued and sweep.alive and sweep.place() == 1
        # In Chinese (switched after the English-labelled widgets were set: see tests/pages/conftest.py).
        set_language(at, "zh")
        monkeypatch.setattr(i18n, "default_language", lambda: "zh")
        no_traceback(at)
        assert any(ZH["sweep_queued"].format(place=1) == info.value for info in at.info), [i.value for i in at.info]
        waiting = sweep.snapshot()
        assert waiting.state == "waiting" and waiting.step == 0 and waiting.lrs == log_grid(0.01, 100.0, 9)
        sweep.stop()  # what Stop's callback does (AppTest clicks only with the widgets' English labels)
        at.run()
        no_traceback(at)
        assert not sweep.alive and sweep.place() is None and sweep.snapshot().state == "stopped"
        assert ray.get(waiting_line().place.remote(sweep.id)) is None  # taken out of the line
        assert ZH["sweep_state_stopped"] in at.get("progress")[0].proto.text
        # A class's job waits in the same line, behind nobody now: its teacher's board says so;
        # stopped, it leaves the line too.
        board = class_page.teacher("zh", cl_epochs=1, cl_subset=3_000)  # a teacher in Chinese
        code = class_page.code_of(board)
        for nick in ("a", "b"):
            class_page.submit(class_page.student(code), nick)
        board.button(key="cl_start").click().run()
        no_traceback(board)
        waiting_class = classes.REGISTRY.find(code).job
        assert isinstance(waiting_class, RemoteBackground) and waiting_class.place() == 1
        said = ZH["class_queued"].format(n=2, place=1)
        assert any(said == info.value for info in board.info), [i.value for i in board.info]
        before = waiting_class.snapshot()
        assert before.state == "waiting" and before.losses.shape == (0, 2) and before.diverged_at == (None, None)
        board.button(key="cl_stop").click().run()
        no_traceback(board)
        assert not waiting_class.alive and waiting_class.place() is None
        assert ZH["sweep_state_stopped"] in board.get("progress")[0].proto.text
        classes.REGISTRY.close(code)
        assert at.button(key="sweep_start").disabled is False  # Start again
    finally:
        remote.REGISTRY.drop(holder)
    assert until(lambda: free_cpus() == 1, 30, "the place freed, not taken by the stopped sweep")

    # A sweep whose page never asks again (its tab closed) ends by itself soon after its end.
    unasked = remote_sweep(TINY, keep_s=1)
    until(lambda: not unasked.queued, PLACE_S, "the sweep placed")
    assert until(lambda: free_cpus() == 1, 120, "the unasked sweep's end")  # placed, it held the CPU till then
    assert unasked.snapshot().state == "failed" and unasked.expired and not unasked.lost and not unasked.alive


@contextlib.contextmanager
def line_stopped():
    """The cluster's waiting line unable to answer: its worker process stopped (SIGSTOP, as a
    machine too busy to run it), then let go on again. A wait of 0 s alone did not always time
    out: an idle line answered within it once (a CI-like run)."""
    import ray

    from bnviz.cluster.run_actor import waiting_line

    pid = ray.get(waiting_line().__ray_call__.remote(lambda line: os.getpid()), timeout=PLACE_S)
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_a_class_trains_on_the_worker_as_here_and_frees_its_place(ray_engine, cluster, monkeypatch):
    from bnviz.cluster import remote
    from bnviz.training.manager import JobRefused

    with monkeypatch.context() as patched, line_stopped():  # a line that does not answer in time: the Start refused
        patched.setattr(remote, "LINE_WAIT_S", 0.0)
        with pytest.raises(JobRefused) as refused:
            ray_engine.start_class(STUDENTS, CLASS, lambda: None)
        assert (refused.value.key, refused.value.params) == ("engine_slow", {"seconds": 0})
        with pytest.raises(JobRefused):
            remote.join_line("refused-start")
    # The refused Start does not stand in the line: its join, made late, was followed by its leave.
    assert remote.place_in_line("refused-start") is None

    def not_here():
        raise AssertionError("the replica loaded the data: the class's node does")

    job = ray_engine.start_class(STUDENTS, CLASS, not_here)
    assert job.join(PLACE_S)  # placed, then trained
    snap = job.snapshot()
    assert snap.state == "finished" and snap.losses.shape == (CLASS.total_steps, 2)
    alone = ClassJob(STUDENTS, load_fashion_mnist(fallback_synthetic=True), CLASS).start()
    assert alone.join(120)
    np.testing.assert_allclose(snap.losses, alone.snapshot().losses, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(snap.accuracy, alone.snapshot().accuracy, atol=1e-6)
    assert snap.diverged_at == alone.snapshot().diverged_at
    changed = ClassJob((STUDENTS[0], dataclasses.replace(STUDENTS[1], lr=0.02)),
                       load_fashion_mnist(fallback_synthetic=True), CLASS).start()
    assert changed.join(120)
    assert np.abs(changed.snapshot().losses[:, 1] - snap.losses[:, 1]).max() > 1e-3  # one student's rate changed
    assert until(lambda: free_cpus() == 1, 30, "the place freed at the end")
