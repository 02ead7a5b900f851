"""A real Ray cluster on this machine, for the engine's tests and ``python -m bench engine``: a head
that trains nothing (0 CPUs, no dashboard) and one worker node with ``cpus`` CPUs (one: the cluster
holds one run at a time, a second waits). A test may kill the worker and add another."""

from __future__ import annotations


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

    def shutdown(self) -> None:
        self.cluster.shutdown()
