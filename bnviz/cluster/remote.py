"""What a web replica holds of a run that lives on the Ray cluster (:mod:`bnviz.cluster.run_actor`).

:class:`RayRegistry` is :class:`bnviz.training.watching.Registry` for the cluster: it opens a run
as a detached actor named after its watch code, and finds a run by its code or its owner token from
any replica. :class:`RemoteRun` is the page's run (a :class:`~bnviz.training.watching.WatchedRun`
whose owners, watchers and results live in the actor) and :class:`RemoteJob` the page's job (its
controls and readings are calls to the actor; its snapshot is fetched when the actor's has changed).

Chart data is still computed once per snapshot version and shared by the viewers of this replica
(:meth:`WatchedRun.shared`). Each replica keeps the last snapshot it fetched: when the actor's node
dies, every page that shows the run says so and still shows, and exports, the history up to then.

A run waits for the cluster's resources (one CPU, or a GPU share): until Ray has placed its
:class:`~bnviz.cluster.run_actor.Place` and the place has opened the run's actor, the run is
:attr:`RemoteRun.queued`, the page says so, and the controls pressed meanwhile wait with it (made
in order once the actor runs). The place ends with the job: a new job after that (a Start after
the end) is a new run behind a new place under the same code and owner token
(:meth:`RayRegistry.reopen`).
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from types import MappingProxyType

from bnviz.cluster import engine
from bnviz.cluster.run_actor import named, place_class, waiting_line
from bnviz.training.manager import JobRefused
from bnviz.training.watching import WatchedRun, grace_from_env

CALL_TIMEOUT_S = 10.0  # a call to a run's actor; longer: the page keeps what it had
CONTROL_WAIT_S = 10.0  # a control's answer (a refusal); longer: "the cluster did not answer"
READY_PROBE_S = 0.2  # how long a call waits to tell a placed actor (answers in ms) from a queued one
ORDERED = ("control", "new_job")  # run one at a time, in the order made (see bnviz.cluster.run_actor)
LEASE_S = 120.0  # an owner's page holds its run this long after its replica last renewed it
PLACE_WAIT_S = 8.0  # Start waits this long for Ray to place a new run's actor before saying it is queued
# Start waits this long for the cluster's waiting line to take a training in: the first Start on a
# cluster makes the line's actor, a new worker process (10 s were not enough on a busy node).
LINE_WAIT_S = 30.0


def _ray():
    import ray

    return ray


def resources_for(device: str) -> dict:
    """What a training (a run, a sweep, a class) asks of the cluster: ``BNVIZ_GPU_SHARE`` of a GPU
    where the cluster has GPUs and the training's ``device`` setting allows one, else one CPU."""
    if engine.current().resources.get("GPU", 0) > 0 and device != "cpu":
        return {"num_cpus": 0, "num_gpus": engine.gpu_share()}
    return {"num_cpus": 1}


def not_placed(ready) -> bool:
    """Whether the actor whose ``ready()`` answer ``ready`` is has not been placed yet (asked for
    :data:`READY_PROBE_S`: a placed actor answers in ms)."""
    done, _ = _ray().wait([ready], timeout=READY_PROBE_S)
    return not done


def join_line(code: str) -> None:
    """Put ``code`` at the end of the cluster's waiting line, or refuse the Start (``engine_slow``)
    when the line does not answer within :data:`LINE_WAIT_S`: its join, made when the line
    answers, is then followed by its leave (calls of one process to one actor run in order), or
    it would stand in line for good, ahead of every later training."""
    ray = _ray()
    try:
        ray.get(waiting_line().join.remote(code), timeout=LINE_WAIT_S)
    except ray.exceptions.GetTimeoutError:
        waiting_line().leave.remote(code)
        raise JobRefused("engine_slow", seconds=round(LINE_WAIT_S)) from None


def place_in_line(code: str) -> int | None:
    """The place of ``code`` in the cluster's waiting line (1: next), None when not in it or unknown."""
    try:
        return _ray().get(waiting_line().place.remote(code), timeout=CALL_TIMEOUT_S)
    except _ray().exceptions.RayError:
        return None


class RemoteJob:
    """The page's job of a run on the cluster: the controls and readings of
    :class:`bnviz.training.job.Job` that the pages use, each a call to the run's actor."""

    def __init__(self, run: RemoteRun, job_id: str, config):
        self.run, self.id, self.config = run, job_id, config

    def snapshot(self):
        return self.run.snapshot()

    @property
    def lost(self) -> bool:
        return self.run.lost

    @property
    def state(self) -> str:
        snap = self.snapshot()
        if snap is None:
            return "failed" if self.run.lost else "idle"  # lost while it waited for a place
        return snap.state

    @property
    def steps_done(self) -> int:
        snap = self.snapshot()
        return snap.step if snap is not None else 0

    def _control(self, action: str, *args, wait: float = CONTROL_WAIT_S):
        answer = self.run.call("control", action, *args, wait=wait)
        if isinstance(answer, tuple) and answer[:1] == ("refused",):
            raise JobRefused(answer[1], **answer[2])
        return answer

    def start(self) -> None:
        self._control("start")

    def step(self, n: int = 1) -> None:
        self._control("step", n)

    def pause(self) -> None:
        self._control("pause")

    def resume(self) -> None:
        self._control("resume")

    def stop(self, timeout: float = 30.0, settled: bool = True) -> None:
        self._control("stop", timeout, settled, wait=timeout + CONTROL_WAIT_S)

    def set_lr(self, model: str, lr: float) -> None:
        self._control("set_lr", model, float(lr))

    def wait_parked(self, timeout: float = 60.0) -> bool:
        return bool(self._control("wait_parked", timeout, wait=timeout + 1))

    def readouts(self) -> RemoteReadouts:
        return RemoteReadouts(self.run)


class RemoteReadouts:
    """:class:`bnviz.training.readouts.Readouts`, read in the run's actor (a progress callback
    cannot cross processes: a long reading shows Streamlit's spinner instead)."""

    def __init__(self, run: RemoteRun):
        self.run = run

    def test_time_now(self) -> dict:
        return self.run.call("readout", "test_time_now", wait=60)

    def population(self, progress=None) -> dict:
        return self.run.call("readout", "population", wait=600)

    def by_hand(self, layer: str, channel: int) -> dict:
        return self.run.call("readout", "by_hand", layer, int(channel), wait=60)

    def export_weights(self) -> bytes:
        return self.run.call("readout", "export_weights", wait=60)


class _Results:
    """``run.results[name] = value`` and ``run.results.get(name)``, kept by the actor (every
    replica's viewers see what the owner measured)."""

    def __init__(self, run: RemoteRun):
        self.run = run

    def __setitem__(self, name: str, value: tuple) -> None:
        self.run.call("set_result", name, value)

    def get(self, name: str, default=None):
        try:
            value = self.run.call("result", name)
        except JobRefused:
            return default
        return default if value is None else value


class RemoteRun(WatchedRun):
    """A run on the cluster as a page sees it (see the module docstring)."""

    def __init__(self, registry: RayRegistry, actor, code: str, owner_token: str, config=None, place=None):
        super().__init__(None, code, owner_token, owner=None)
        self.registry = registry
        self._owners = set()
        self.results = _Results(self)
        self.lost = False  # its actor's node died
        self._presence = {"owner": True, "left_s": None, "watchers": 0}
        self._presence_at = 0.0
        self._fetch_lock = threading.Lock()
        self._calls_lock = threading.RLock()
        self.behind(place, actor, config)

    def behind(self, place, actor=None, config=None) -> None:
        """The run is now the one behind ``place`` (waiting for it to open the run's actor), or the
        run's ``actor`` itself: a new run, or a new job under the same code."""
        with self._calls_lock:
            self.place_actor, self.actor = place, actor
            self._ready = place.ready.remote() if place is not None else None
            self._waiting_calls = []  # made while queued: made in order once the actor runs
        with self._fetch_lock:
            self._snap = None
        self.job = RemoteJob(self, "", config) if config is not None else None

    # ---- calls --------------------------------------------------------------------------
    def call(self, method: str, *args, wait: float = CALL_TIMEOUT_S):
        """``method(*args)`` on the actor, its answer within ``wait`` seconds. A run still waiting
        for the cluster answers None (the call is made when the actor runs); a lost run raises
        :class:`JobRefused` ``job_lost``, an actor too slow to answer ``engine_slow``."""
        ray = _ray()
        if self.lost:
            raise JobRefused("job_lost")
        with self._calls_lock:
            if self.queued:
                self._waiting_calls.append((method, args))
                return None
            if self.actor is None:  # its place ended before it opened the run: dropped, or its node died
                raise JobRefused("job_lost")
            ref = self._remote(method, *args)
        try:
            return ray.get(ref, timeout=wait)
        except ray.exceptions.GetTimeoutError:
            raise JobRefused("engine_slow", seconds=round(wait)) from None
        except ray.exceptions.RayActorError as err:
            self._died(err)
            raise JobRefused("job_lost") from None

    def _remote(self, method: str, *args):
        remote = getattr(self.actor, method)
        if method in ORDERED:
            remote = remote.options(concurrency_group="control")
        return remote.remote(*args)

    def _died(self, err) -> None:
        """The actor is gone: ended on purpose (its grace period, a Reset) or with its node."""
        ended = "ray.kill" in str(err)
        if not ended:
            self.lost = True
        waiting_line().leave.remote(self.code)  # lost while it waited
        self.registry.forget(self, keep=not ended)

    @property
    def queued(self) -> bool:
        """Whether the run still waits for the cluster's resources (its place has not opened the
        run's actor yet); once it has, the calls made meanwhile are made, in order."""
        with self._calls_lock:
            if self._ready is None or not_placed(self._ready):
                return self._ready is not None
            ready, self._ready = self._ready, None
            try:
                _ray().get(ready)
                self.actor = _ray().get_actor(f"run-{self.code}", namespace=engine.NAMESPACE)
            except (_ray().exceptions.RayActorError, ValueError) as err:  # the place ended: dropped, its node died
                self._died(err)
                return False
            waiting, self._waiting_calls = self._waiting_calls, []
            for method, args in waiting:
                self._remote(method, *args)  # their answers are not awaited: the page has moved on
            return False

    def place(self) -> int | None:
        """The run's place in the cluster's waiting line (1: next), None when not waiting."""
        return place_in_line(self.code) if self.queued else None

    # ---- snapshots ----------------------------------------------------------------------
    def snapshot(self):
        """The run's snapshot: fetched when the actor's has changed; the last one fetched when the
        actor is slow; after its node died, that one marked failed with the reason ``job_lost``."""
        with self._fetch_lock:
            if not self.lost and not self.queued:
                snap = self._snap
                try:
                    fresh = self.call("snapshot", self.job.id if self.job else None,
                                      snap.version if snap else None, snap.step if snap else None)
                except JobRefused:
                    fresh = None
                if fresh is not None:
                    job_id, self._snap = fresh
                    if self.job is None or self.job.id != job_id:
                        self.job = RemoteJob(self, job_id, self.job.config if self.job else self._snap.config)
            if self.lost and self._snap is not None and self._snap.reason_key != "job_lost":
                self._snap = dataclasses.replace(self._snap, state="failed", reason_key="job_lost",
                                                 reason_params=MappingProxyType({}))
            return self._snap

    def new_job(self, config) -> RemoteJob:
        """The owner's new idle job (Reset, other settings, a Start after the end): in the run's
        actor while it holds its place (a waiting run's, once placed), else a new run's actor
        behind a new place under this code (:meth:`RayRegistry.reopen`)."""
        if self.call("new_job", config) is False:  # its job had ended and its place gone
            self.registry.reopen(self, config)
        else:
            self.job = RemoteJob(self, "", config)
            with self._fetch_lock:
                self._snap = None
        self.forget_shared()
        return self.job

    # ---- owners and watchers (kept by the actor) ----------------------------------------
    def _present(self, viewer: str | None = None) -> dict:
        now = time.monotonic()
        if (viewer or now - self._presence_at > 1.0) and not self.queued:
            try:
                self._presence = self.call("presence", viewer) or self._presence
            except JobRefused:
                pass
            self._presence_at = now
        return self._presence

    @property
    def owner_present(self) -> bool:
        return self._present()["owner"]

    @property
    def ends_at(self):
        left = self._present()["left_s"]
        return None if left is None else time.monotonic() + left

    @ends_at.setter
    def ends_at(self, value) -> None:  # WatchedRun's __init__ sets it; the actor keeps the real one
        pass

    def seen(self, viewer: str) -> None:
        self._present(viewer)

    def watchers(self) -> int:
        return self._present()["watchers"]

    def left(self, viewer: str) -> None:
        try:
            self.call("watcher_left", viewer)
        except JobRefused:
            pass


class RayRegistry:
    """The cluster's watchable runs, as :class:`bnviz.training.watching.Registry` is this process's.
    Runs seen by this replica are kept (chart data shared by its viewers, the last snapshot)."""

    def __init__(self, grace_s: float | None = None, lease_s: float = LEASE_S, renewing: bool = True):
        self._grace_s, self.lease_s, self.renewing = grace_s, lease_s, renewing
        self._lock = threading.Lock()
        self._runs: dict[str, RemoteRun] = {}
        self._held: dict[str, set] = {}  # code → the owners' pages of this replica that hold the run
        self._renewer: threading.Thread | None = None

    def _hold(self, run: RemoteRun, owner: str, held: bool) -> None:
        """This replica's page ``owner`` holds ``run`` (or no longer); the lease renewer runs while any does."""
        with self._lock:
            owners = self._held.setdefault(run.code, set())
            (owners.add if held else owners.discard)(owner)
            if not owners:
                del self._held[run.code]
            if self.renewing and self._held and (self._renewer is None or not self._renewer.is_alive()):
                self._renewer = threading.Thread(target=self._renew, name="bnviz-owner-renew", daemon=True)
                self._renewer.start()

    def _renew(self) -> None:
        """Every third of the lease, tell each held run's actor that its owners' pages are still here."""
        while True:
            time.sleep(self.lease_s / 3)
            with self._lock:
                held = [(self._runs.get(code), sorted(owners)) for code, owners in self._held.items()]
            if not held:
                return
            for run, owners in held:
                # ``queued`` first: a run placed since its page last asked gets its actor here.
                if run is not None and not run.lost and not run.queued and run.actor is not None:
                    run.actor.renew.remote(owners)  # no answer awaited

    @property
    def grace_s(self) -> float:
        return self._grace_s if self._grace_s is not None else grace_from_env()

    def open(self, config, owner: str) -> RemoteRun:
        """A new run on the cluster, held by the owner's page ``owner``, with an idle job."""
        code, secret = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        run = RemoteRun(self, None, code, f"{code}.{secret}", config, place=self._place(code, secret, owner, config))
        self._wait_if_room(run, config)
        with self._lock:
            self._runs[code] = run
        self._hold(run, owner, True)
        return run

    def _place(self, code: str, secret: str, owner: str, config):
        """The place of run ``code``, in the cluster's waiting line (see bnviz.cluster.run_actor)."""
        # In line first: the run's actor, once placed, leaves it (a join after that would stay for good).
        join_line(code)
        return named(lambda: place_class().options(
            name=f"place-{code}", namespace=engine.NAMESPACE, lifetime="detached", **resources_for(config.device),
        ).remote(code, secret, owner, self.grace_s, config, self.lease_s))

    @staticmethod
    def _wait_if_room(run: RemoteRun, config) -> None:
        """A cluster with room places a run in seconds: wait for that; on a full one the page says
        at once that it waits."""
        resources = resources_for(config.device)
        kind, amount = ("GPU", resources["num_gpus"]) if "num_gpus" in resources else ("CPU", 1)
        if _ray().available_resources().get(kind, 0) >= amount:
            _ray().wait([run._ready], timeout=PLACE_WAIT_S)

    def reopen(self, run: RemoteRun, config) -> None:
        """A new job for ``run``: its actor (and its place, if the job had not ended) ends, and a
        new place opens a new run's actor with an idle job under the same code and owner token,
        held by this replica's owners' pages; the run waits in line as a new one does."""
        ray = _ray()
        for actor in (run.actor, run.place_actor):
            if actor is not None:
                ray.kill(actor, no_restart=True)
        with self._lock:
            owners = sorted(self._held.get(run.code, ())) or ["owner"]
        secret = run.owner_token.partition(".")[2]
        run.behind(self._place(run.code, secret, owners[0], config), config=config)
        self._wait_if_room(run, config)
        for owner in owners[1:]:
            run.call("owner_back", secret, owner)

    def _lookup(self, code: str) -> RemoteRun | None:
        ray = _ray()
        with self._lock:
            run = self._runs.get(code)
        if run is not None:
            return run
        try:
            run = RemoteRun(self, ray.get_actor(f"run-{code}", namespace=engine.NAMESPACE), code, "")
        except ValueError:  # no run's actor: a run waiting for its place, or an unknown, expired or mistyped code
            try:
                run = RemoteRun(self, None, code, "", place=ray.get_actor(f"place-{code}", namespace=engine.NAMESPACE))
            except ValueError:
                return None
        with self._lock:
            return self._runs.setdefault(code, run)

    def find(self, code: str | None) -> RemoteRun | None:
        """The run with this watch code (from any replica), or None; a run whose node died is
        still found here, with its last snapshot."""
        if not code or len(code) > 64 or not code.replace("-", "").replace("_", "").isalnum():
            return None
        run = self._lookup(code)
        if run is None:
            return None
        run.snapshot()  # asks its actor: a run that has ended is forgotten here
        with self._lock:
            return run if self._runs.get(code) is run else None

    def find_owned(self, token: str | None) -> RemoteRun | None:
        """The run whose owner token this is (``<code>.<secret>``), checked by its actor."""
        if not token or len(token) > 64 or token.count(".") != 1:
            return None
        code, secret = token.split(".")
        run = self.find(code)
        if run is None or run.lost:
            return None
        try:
            owns = run.call("owns", secret)
        except JobRefused:
            return None
        if owns:
            run.owner_token = token
            return run
        return None

    def owner_back(self, run: RemoteRun, owner: str) -> None:
        secret = run.owner_token.partition(".")[2]
        try:
            if run.call("owner_back", secret, owner) is not False:  # None: queued with the run
                self._hold(run, owner, True)
        except JobRefused:
            pass

    def owner_left(self, run: RemoteRun, owner: str = "owner") -> None:
        self._hold(run, owner, False)
        try:
            run.call("owner_left", owner)
        except JobRefused:
            pass

    def drop(self, run: RemoteRun) -> None:
        """End the run: its actor releases the job and ends (one still waiting is taken out)."""
        if run.queued:
            waiting_line().leave.remote(run.code)
            _ray().kill(run.place_actor, no_restart=True)
            try:  # placed meanwhile: the run's actor it opened goes too
                _ray().kill(_ray().get_actor(f"run-{run.code}", namespace=engine.NAMESPACE), no_restart=True)
            except ValueError:
                pass
        else:
            try:
                run.call("end")
            except JobRefused:
                pass
        self.forget(run)

    def forget(self, run: RemoteRun, keep: bool = False) -> None:
        """This replica stops holding ``run`` (``keep``: a lost run stays, with its last snapshot)."""
        if keep:
            return
        with self._lock:
            if self._runs.get(run.code) is run:
                del self._runs[run.code]
                self._held.pop(run.code, None)
        run.forget_shared()

    def runs(self) -> list[RemoteRun]:
        with self._lock:
            return list(self._runs.values())

    def drop_all(self) -> None:
        for run in self.runs():
            self.drop(run)


REGISTRY = RayRegistry()
