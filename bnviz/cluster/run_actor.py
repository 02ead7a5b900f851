"""One watchable run on a Ray cluster: a detached, named actor that holds the training job, and
its place, a second actor that holds the cluster's resources while the job trains.

The run's actor is what :class:`bnviz.training.watching.WatchedRun` and the job are in one process,
made reachable by every web replica: its name is ``run-<watch code>`` in the app's namespace, so a
watcher whose link lands on another replica finds it, and it outlives the replica that started
it. It holds

- the :class:`bnviz.training.job.Job` (its thread trains here);
- the owner's secret (the owner token is ``<code>.<secret>``: any replica can find the run from it
  and the actor checks the secret), the owner's pages, the watchers seen lately, what the owner
  measured (:meth:`result`);
- the grace period: when the last owner's page has closed, the actor ends itself after
  ``grace_s`` unless an owner comes back. A page's hold is a lease its replica renews
  (:meth:`renew`): the pages of a replica that crashed, and so never said they closed, let go
  after ``lease_s``.

The run's :class:`Place` (``place-<watch code>``) asks Ray for what a training needs (one CPU, or
``BNVIZ_GPU_SHARE`` of a GPU) and waits in Ray's line for it; once placed, it opens the run's actor
on its own node, asking for nothing: the run's resources are the place's. When the job ends
(finished, stopped, diverged, failed) the run's actor ends its place, and the next waiting
training gets the resources at once, as a thread's slot is freed in one process; the run, its
history and its readings stay for its owner and watchers until its grace period ends. A new job
while the place is held (a Reset, other settings) replaces the job in the run's actor; once the
place has gone (a Start after the end), it is a new run's actor behind a new place, under the
same code, waiting in line as a new run does.

Every method is called by :mod:`bnviz.cluster.remote`. Calls run in threads of the actor, in no
set order, except the controls and :meth:`new_job`: one at a time, in the order they were made
(the ``control`` concurrency group). Refusals come back as ``("refused", key, params)`` tuples, never as
exceptions that would lose their key crossing processes.
"""

from __future__ import annotations

import dataclasses
import functools
import hmac
import os
import secrets
import threading
import time

from bnviz.errors import KeyedError

WATCHER_TIMEOUT_S = 15.0
ACTIONS = ("start", "step", "pause", "resume", "stop", "set_lr", "wait_parked")
ENDED_CHECK_S = 0.5  # how often a run's actor looks whether its job has ended (and its place can go)
NAME_WAIT_S = 20.0  # a new place or run's actor waits this long for the name its predecessor held


class RunActor:
    """A run and its job, held by a Ray actor (wrapped by ``ray.remote`` in :func:`run_actor_class`)."""

    def __init__(self, code: str, secret: str, owner: str, grace_s: float, config, lease_s: float = 120.0,
                 place=None, devices: str | None = None):
        if devices is not None:  # the GPU its place was given (Ray shows an actor without GPUs none)
            os.environ["CUDA_VISIBLE_DEVICES"] = devices
        self.code, self._secret, self.grace_s, self.lease_s = code, secret, grace_s, lease_s
        self._owners: dict[str, float] = {}  # owner's page → when its replica last said it holds the run
        self._watchers: dict[str, float] = {}
        self._results: dict[str, tuple] = {}
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._ends_at: float | None = None
        self._place = place
        self.job = None
        self.new_job(config)
        # The lease counts from here, once the job is made (in a new worker on a busy node that took
        # seconds, a good part of a short lease): the replica renews it once it sees the run placed.
        self._owners[owner] = time.monotonic()
        waiting_line().leave.remote(code)  # placed: no longer waiting
        threading.Thread(target=self._expire_owners, name="bnviz-owner-lease", daemon=True).start()
        threading.Thread(target=self._free_place, name="bnviz-place", daemon=True).start()

    # ---- the job ------------------------------------------------------------------------
    def new_job(self, config) -> str | bool:
        """Replace the job by a new idle one for ``config`` (the old one is released): its id; False
        once the run's place has gone (its job ended: the replica opens a new place, in line)."""
        from bnviz.data.fashion_mnist import load_fashion_mnist
        from bnviz.training.job import Job

        if self._place is None:
            return False
        config = dataclasses.replace(config, device="auto")  # this node's GPU, when its place was given one
        job = Job(config, node_dataset(load_fashion_mnist), owner="session")
        job.id = f"{self.code[:8]}-{secrets.token_hex(4)}"  # unique across the run's actors under one code
        with self._lock:
            old, self.job = self.job, job
        if old is not None:
            old.release()  # after the swap: the place is kept for the new job
        return job.id

    def _free_place(self) -> None:
        """In a thread: once the job has ended, its place goes (the next training gets its resources)."""
        from bnviz.training.history import ENDED

        while self.job.state not in ENDED:
            time.sleep(ENDED_CHECK_S)
        self._end_place()

    def _end_place(self) -> None:
        import ray

        with self._lock:
            place, self._place = self._place, None
        if place is not None:
            ray.kill(place, no_restart=True)

    def control(self, action: str, *args):
        """``start``, ``step``, ``pause``, ``resume``, ``stop``, ``set_lr`` or ``wait_parked`` on
        the job; None, or ``("refused", key, params)``."""
        if action not in ACTIONS:
            return ("refused", "config_bad", {"field": "action", "value": action})
        try:
            result = getattr(self.job, action)(*args)
        except KeyedError as err:
            return ("refused", err.key, dict(err.params))
        return result if action == "wait_parked" else None

    def snapshot(self, job_id: str | None, version: int | None, step: int | None):
        """``(job id, snapshot)``, or None when the caller holds this job's snapshot already."""
        job = self.job
        snap = job.snapshot()
        if job.id == job_id and snap.version == version and snap.step == step:
            return None
        return job.id, snap

    def readout(self, name: str, *args):
        """One of :class:`bnviz.training.readouts.Readouts`' readings of the current job."""
        return getattr(self.job.readouts(), name)(*args)

    # ---- owner, watchers, results -------------------------------------------------------
    def owns(self, secret: str) -> bool:
        """Whether ``secret`` is this run's owner secret."""
        return hmac.compare_digest(secret.encode(), self._secret.encode())

    def owner_back(self, secret: str, owner: str) -> bool:
        """A page holding the owner token's secret holds the run (again); False for a wrong one."""
        if not self.owns(secret):
            return False
        with self._lock:
            self._owners[owner] = time.monotonic()
            self._ends_at = None
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        return True

    def renew(self, owners: list[str]) -> None:
        """The replica of these owners' pages says they still hold the run (every third of the
        lease): a replica that crashed says nothing, and its pages' hold ends with the lease."""
        now = time.monotonic()
        with self._lock:
            for owner in owners:
                if owner in self._owners:
                    self._owners[owner] = now

    def owner_left(self, owner: str) -> None:
        with self._lock:
            self._owners.pop(owner, None)
            self._start_grace()

    def _start_grace(self) -> None:
        """Under the lock: with no owner's page left, the grace period begins (once)."""
        if self._owners or self._timer is not None:
            return
        self._ends_at = time.monotonic() + self.grace_s
        self._timer = threading.Timer(self.grace_s, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire_owners(self) -> None:
        """Forever, in a thread: owners' pages whose replica has not renewed them for the lease are gone."""
        while True:
            time.sleep(min(5.0, self.lease_s / 4))
            now = time.monotonic()
            with self._lock:
                self._owners = {o: t for o, t in self._owners.items() if now - t < self.lease_s}
                self._start_grace()

    def _expire(self) -> None:
        with self._lock:
            if self._owners:
                return
        self.end()

    def end(self) -> None:
        """Release the job and end this actor (its name is free again; watchers see the run gone)."""
        import ray

        self.job.release()
        self._end_place()
        ray.kill(ray.get_runtime_context().current_actor, no_restart=True)

    def presence(self, viewer: str | None = None) -> dict:
        """Whether an owner's page holds the run, the seconds its grace period has left, and the
        watchers seen lately; ``viewer``: a watcher's page that refreshes now."""
        now = time.monotonic()
        with self._lock:
            if viewer:
                self._watchers[viewer] = now
            self._watchers = {k: t for k, t in self._watchers.items() if now - t < WATCHER_TIMEOUT_S}
            left = None if self._ends_at is None else max(0.0, self._ends_at - now)
            return {"owner": bool(self._owners), "left_s": left, "watchers": len(self._watchers)}

    def watcher_left(self, viewer: str) -> None:
        with self._lock:
            self._watchers.pop(viewer, None)

    def set_result(self, name: str, value: tuple) -> None:
        with self._lock:
            self._results[name] = value

    def result(self, name: str):
        with self._lock:
            return self._results.get(name)

    def ready(self) -> str:
        """Answers once the actor runs (it was waiting for the cluster's resources until then)."""
        import ray

        return ray.get_runtime_context().get_node_id()


class Place:
    """A run's hold on the cluster's resources: created with what a training asks (see the module
    docstring), it waits in Ray's line; once placed, it opens the run's actor on its node."""

    def __init__(self, code: str, secret: str, owner: str, grace_s: float, config, lease_s: float):
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from bnviz.cluster.engine import NAMESPACE

        context = ray.get_runtime_context()
        devices = os.environ.get("CUDA_VISIBLE_DEVICES") if ray.get_gpu_ids() else None
        here = NodeAffinitySchedulingStrategy(context.get_node_id(), soft=False)
        self.run = named(lambda: run_actor_class().options(
            name=f"run-{code}", namespace=NAMESPACE, lifetime="detached", num_cpus=0, scheduling_strategy=here,
        ).remote(code, secret, owner, grace_s, config, lease_s, context.current_actor, devices))

    def ready(self) -> str:
        """Answers once the run's actor runs on this place's node: that node's id."""
        import ray

        return ray.get(self.run.ready.remote())


def named(make, wait: float = NAME_WAIT_S):
    """``make()`` (an actor with a name), retried while the name is still taken: the actor that
    held it (the run's or place's predecessor under the same code) was ended a moment ago."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return make()
        except ValueError:  # "the name is already taken"
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@functools.cache
def run_actor_class():
    """``RunActor`` as a Ray actor class (threaded: a blocking call never holds up a watcher's)."""
    import ray

    return ray.remote(max_concurrency=16, concurrency_groups={"control": 1})(RunActor)


@functools.cache
def place_class():
    import ray

    return ray.remote(Place)


class WaitingLine:
    """The runs waiting for a place in the cluster, in the order their Starts came, whichever
    replica they came from: one small actor (no CPU) that any replica asks for a run's place.
    Ray places waiting actors of one shape in the order they were made; a run leaves the line
    when it is placed (its actor's first act), dropped, or lost."""

    def __init__(self):
        self._codes: dict[str, float] = {}

    def join(self, code: str) -> None:
        self._codes.setdefault(code, time.time())

    def leave(self, code: str) -> None:
        self._codes.pop(code, None)

    def place(self, code: str) -> int | None:
        """1 for the first in line; None for a run not waiting."""
        order = sorted(self._codes, key=self._codes.get)
        return order.index(code) + 1 if code in self._codes else None

    def size(self) -> int:
        """How many trainings wait now."""
        return len(self._codes)


# Ray's own resource of the head node: the line lives there, as long as the cluster, not on a
# worker node whose end would take every waiting training's place with it.
HEAD = {"node:__internal_head__": 0.001}
LINE_NAME = "waiting-line"


def waiting_line():
    """The cluster's :class:`WaitingLine` (made by the first replica that asks, on the head node)."""
    import ray

    from bnviz.cluster.engine import NAMESPACE

    return ray.remote(num_cpus=0)(WaitingLine).options(
        name=LINE_NAME, namespace=NAMESPACE, lifetime="detached", get_if_exists=True, resources=HEAD).remote()


_DATASET = {}


def node_dataset(load):
    """Fashion-MNIST once per worker process (labelled synthetic data where it is missing)."""
    if "data" not in _DATASET:
        _DATASET["data"] = load(fallback_synthetic=True)
    return _DATASET["data"]
