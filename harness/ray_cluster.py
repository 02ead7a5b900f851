"""A real Ray cluster on this machine, for the engine's tests and ``python -m bench engine``: a head
that trains nothing (0 CPUs, no dashboard) and one worker node with ``cpus`` CPUs (one: the cluster
holds one run at a time, a second waits). A test may kill the worker and add another."""

from __future__ import annotations

import contextlib


class LocalCluster:
    def __init__(self, cpus: int = 1):
        from ray.cluster_utils import Cluster

        self.cpus = cpus
        self.cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
        self.worker = None
        self.add_worker()

    @property
    def address(self) -> str:
        return self.cluster.address

    def kill_worker(self) -> None:
        """The worker node's processes killed (as a machine that stops), its runs with them."""
        self.cluster.remove_node(self.worker, allow_graceful=False)
        self.worker = None

    def add_worker(self) -> None:
        self.worker = self.cluster.add_node(num_cpus=self.cpus)
        self.cluster.wait_for_nodes()

    def open_line(self, timeout: float = 300.0) -> None:
        """Make the cluster's waiting line (the app's, as a replica's first Start does) and wait
        until it answers: a new worker process, which took over 30 s (the app's wait for the
        line, ``LINE_WAIT_S``) beside eight busy loops on two cores. Kept by :meth:`end_runs`."""
        import ray

        from bnviz.cluster.run_actor import waiting_line

        with self._joined():
            ray.get(waiting_line().size.remote(), timeout=timeout)

    def end_runs(self, timeout: float = 120.0) -> None:
        """Kill every actor of the app (its runs, sweeps and classes) and wait until the worker's
        CPUs are free again: each test starts on an empty cluster, whatever the one before left.
        The waiting line is kept when nobody waits in it (each new one is a worker process
        started again, seconds of CPU), else killed with the rest."""
        import time

        import ray

        from bnviz.cluster.engine import NAMESPACE
        from bnviz.cluster.run_actor import LINE_NAME

        with self._joined():
            keep = self._line_empty(timeout)
            for actor in ray.util.list_named_actors(all_namespaces=True):
                if actor["namespace"] == NAMESPACE and not (keep and actor["name"] == LINE_NAME):
                    try:
                        ray.kill(ray.get_actor(actor["name"], namespace=NAMESPACE), no_restart=True)
                    except ValueError:  # gone meanwhile
                        pass
            deadline = time.monotonic() + timeout
            while self.worker is not None and ray.available_resources().get("CPU", 0) < self.cpus:
                if time.monotonic() > deadline:
                    raise TimeoutError("the cluster's CPUs were not freed")
                time.sleep(0.2)

    @staticmethod
    def _line_empty(timeout: float) -> bool:
        """Whether the app's waiting line is there (alive) with nobody in it."""
        import ray

        from bnviz.cluster.engine import NAMESPACE
        from bnviz.cluster.run_actor import LINE_NAME, waiting_line

        if not any(a["namespace"] == NAMESPACE and a["name"] == LINE_NAME
                   for a in ray.util.list_named_actors(all_namespaces=True)):
            return False  # not made yet (waiting_line() would make one)
        try:
            return ray.get(waiting_line().size.remote(), timeout=timeout) == 0
        except ray.exceptions.RayActorError:
            return False

    @contextlib.contextmanager
    def _joined(self):
        """This process joined to the cluster for the block (and left again if it was not before)."""
        import ray

        from bnviz.cluster.engine import NAMESPACE

        joined = ray.is_initialized()
        if not joined:
            ray.init(address=self.address, namespace=NAMESPACE, log_to_driver=False, configure_logging=False)
        try:
            yield
        finally:
            if not joined:
                ray.shutdown()

    def shutdown(self) -> None:
        self.cluster.shutdown()
