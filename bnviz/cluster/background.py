"""The batched trainings on the Ray cluster (``BNVIZ_ENGINE=ray``): the tuning page's learning-rate
sweep and the class board's job (:class:`bnviz.training.background.Background`), one actor each.

Such a training is one page's or one class's, kept by the replica that started it (nobody finds
it from another replica), so its actor is not detached: it ends with that replica. It asks the
cluster for what a run asks (one CPU, or ``BNVIZ_GPU_SHARE`` of a GPU), waits in the same line
when every place is taken, and loads the data on its own node. The page sees what it sees of the
job in-process (``id``, ``alive``, :meth:`RemoteBackground.snapshot`, :meth:`RemoteBackground.stop`,
:meth:`RemoteBackground.join`), and also :attr:`RemoteBackground.queued`,
:meth:`RemoteBackground.place` and :attr:`RemoteBackground.lost`.

Its place is freed as soon as it has ended: the replica ends the actor when a snapshot says the
training has finished, stopped or failed, and the actor ends itself :data:`KEEP_S` seconds after
that if no page has asked (a closed tab): a page that asks later is told the results were not
kept (:attr:`RemoteBackground.expired`).
"""

from __future__ import annotations

import dataclasses
import functools
import secrets
import threading
import time

from bnviz.cluster import engine
from bnviz.cluster.remote import CALL_TIMEOUT_S, join_line, not_placed, place_in_line, resources_for
from bnviz.cluster.run_actor import waiting_line
from bnviz.errors import KeyedError

# An ended training's actor waits this long for its page to fetch the last snapshot (a background
# tab's refresh may come only once a minute) before it frees its place for good.
KEEP_S = 120.0


def sweep_here(config, data):
    """The sweep's job on this node, on its device (an actor's ``build``)."""
    from bnviz.training.config import pick_device
    from bnviz.training.sweep_job import SweepJob

    return SweepJob(dataclasses.replace(config, device=pick_device()), data)


def class_here(members, setup, data):
    """The class's job on this node, on its device (an actor's ``build``)."""
    from bnviz.training.class_job import ClassJob
    from bnviz.training.config import pick_device

    return ClassJob(members, data, dataclasses.replace(setup, device=pick_device()))


class BackgroundActor:
    """A batched training's job on the node Ray chose (``ray.remote`` in :func:`_actor_class`):
    ``build(data)`` makes it (:func:`sweep_here`, :func:`class_here`)."""

    def __init__(self, code: str, build, keep_s: float = KEEP_S):
        from bnviz.cluster.run_actor import node_dataset
        from bnviz.data.fashion_mnist import load_fashion_mnist

        self.job = build(node_dataset(load_fashion_mnist))
        self._fetched_end, self.keep_s, self._refused = threading.Event(), keep_s, False
        waiting_line().leave.remote(code)  # placed: no longer waiting

    def start(self) -> None:
        """Train, and end this actor ``keep_s`` after the end unless the page fetched it first. A
        start refused (this process's cap: never, one job per actor) shows as a failed one."""
        try:
            self.job.start()
        except KeyedError:
            self._refused = True
        threading.Thread(target=self._end_after, name="bnviz-background-end", daemon=True).start()

    def _end_after(self) -> None:
        """Once the job has ended: a page that fetched the end ends this actor itself (see
        :meth:`RemoteBackground._end`, which answers first); with none in ``keep_s``, the actor goes."""
        import ray

        if not self._refused:
            self.job.join()
        if not self._fetched_end.wait(self.keep_s):
            ray.kill(ray.get_runtime_context().current_actor, no_restart=True)

    def snapshot(self):
        snap = self.job.snapshot()
        if self._refused:
            snap = dataclasses.replace(snap, state="failed")
        if snap.state != "running":
            self._fetched_end.set()
        return snap

    def stop(self) -> None:
        self.job.stop()

    def ready(self) -> str:
        """Answers once the actor runs (it was waiting for the cluster's resources until then)."""
        import ray

        return ray.get_runtime_context().get_node_id()


@functools.cache
def _actor_class():
    import ray

    return ray.remote(max_concurrency=4)(BackgroundActor)


class RemoteBackground:
    """A batched training on the cluster as its page sees it (see the module docstring):
    ``build`` makes its job on the node, ``waiting`` is its snapshot before it begins, ``device``
    what it may use ("cpu": no GPU asked for)."""

    def __init__(self, kind: str, build, waiting, device: str = "auto", keep_s: float = KEEP_S):
        self.id = f"{kind}-{secrets.token_urlsafe(12)}"
        self.waiting = waiting
        self.lost = False  # its node died
        self.expired = False  # its actor ended before this page fetched its end (see KEEP_S)
        self._ended = False
        self._snap = None
        self._lock = threading.Lock()
        join_line(self.id)
        self.actor = _actor_class().options(namespace=engine.NAMESPACE, **resources_for(device)) \
            .remote(self.id, build, keep_s)
        self._ready = self.actor.ready.remote()
        self.actor.start.remote()  # runs once the actor is placed

    @property
    def queued(self) -> bool:
        """Whether the training still waits for the cluster's resources."""
        if self._ready is not None and not self._ended and not not_placed(self._ready):
            self._ready = None
        return self._ready is not None and not self._ended

    def place(self) -> int | None:
        """The training's place in the cluster's waiting line (1: next), None when not waiting."""
        return place_in_line(self.id) if self.queued else None

    @property
    def alive(self) -> bool:
        """Training or waiting to (the page refreshes, Start stays disabled)."""
        return not self._ended

    def snapshot(self):
        """The training's latest snapshot (``waiting`` while it waits); after its node died, the
        last one fetched, marked failed."""
        import ray

        with self._lock:
            if self._ended:
                return self._snap
            if self.queued:
                return self.waiting
            try:
                snap = ray.get(self.actor.snapshot.remote(), timeout=CALL_TIMEOUT_S)
            except ray.exceptions.GetTimeoutError:
                return self._snap or self.waiting
            except ray.exceptions.RayActorError as err:
                return self._gone(err)
            self._snap = snap
            if snap.state != "running":
                self._end()
            return snap

    def _gone(self, err):
        """Under the lock: the actor died — on purpose after its end, or with its node."""
        self.lost = "ray.kill" not in str(err)
        self.expired = not self.lost
        self._snap = dataclasses.replace(self._snap or self.waiting, state="failed", eta=None)
        self._ended = True
        waiting_line().leave.remote(self.id)  # lost while it waited
        return self._snap

    def _end(self) -> None:
        """Under the lock: the training has ended; its actor goes, and its place with it."""
        import ray

        self._ended = True
        ray.kill(self.actor, no_restart=True)

    def stop(self) -> None:
        """Stop the training; one still waiting leaves the line (and is shown stopped at step 0)."""
        with self._lock:
            if self._ended:
                return
            if self.queued:
                waiting_line().leave.remote(self.id)
                self._snap = dataclasses.replace(self.waiting, state="stopped")
                self._end()
                return
        self.actor.stop.remote()  # the next snapshot says it has stopped

    def join(self, timeout: float | None = None) -> bool:
        """Wait (polling its snapshot) until the training has ended; True when it has."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self.snapshot()
            if not self.alive:
                return True
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.2)


def remote_sweep(config, keep_s: float = KEEP_S) -> RemoteBackground:
    """The learning-rate sweep for ``config`` on the cluster."""
    from bnviz.training.sweep_job import waiting

    return RemoteBackground("sweep", functools.partial(sweep_here, config),
                            waiting(dataclasses.replace(config, device="Ray")), device="auto", keep_s=keep_s)


def remote_class(members, setup, keep_s: float = KEEP_S) -> RemoteBackground:
    """A class's models, trained together on the cluster."""
    from bnviz.training.class_job import waiting

    members = tuple(members)
    return RemoteBackground("class", functools.partial(class_here, members, setup),
                            waiting(len(members), dataclasses.replace(setup, device="Ray")), device="auto",
                            keep_s=keep_s)
