"""Which engine trains: this server process (the default) or a Ray cluster (``BNVIZ_ENGINE=ray``).

``BNVIZ_ENGINE`` unset (or ``local``): trainings are threads of this server process, under its cap
(:mod:`bnviz.training.manager`), and nothing beyond ``requirements.txt`` is needed.

``BNVIZ_ENGINE=ray``: this process joins the Ray cluster at ``RAY_ADDRESS`` (``host:port`` of the
head's GCS; unset: a Ray cluster started on this machine by ``ray start``, else a local head of
its own), in the namespace :data:`NAMESPACE`, and sends this ``bnviz`` package to the workers (a
worker needs Ray, PyTorch and NumPy installed, not the app). Each run is then an actor any replica can reach
(:mod:`bnviz.cluster.remote`). ``BNVIZ_GPU_SHARE`` (0 < share ≤ 1, default 0.25) is the share of
a GPU a run asks for where the cluster has GPUs; elsewhere a run asks for one CPU.

Ray asked for but not usable (not installed, or the head unreachable) is not an error the user
sees as such: the app trains in-process and says so (:attr:`Engine.fallback`, a message key).
An unreachable head is found by a plain TCP connection first, in :data:`PROBE_TIMEOUT_S` seconds:
``ray.init`` itself retries an unreachable address for minutes.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

NAMESPACE = "bnviz"
PACKAGE = Path(__file__).resolve().parent.parent  # bnviz/, sent to the cluster's workers with each run
PROBE_TIMEOUT_S = 3.0
GPU_SHARE = 0.25
log = logging.getLogger("bnviz")


@dataclass(frozen=True)
class Engine:
    """The engine this process uses: ``kind`` "local" or "ray"; ``fallback``: why Ray was asked
    for and is not used, as (message key, parameters), else None."""

    kind: str = "local"
    fallback: tuple | None = None
    address: str = ""
    resources: dict = field(default_factory=dict)


_lock = threading.Lock()
_engine: Engine | None = None


def wanted() -> str:
    return "ray" if os.environ.get("BNVIZ_ENGINE", "").strip().lower() == "ray" else "local"


def gpu_share() -> float:
    try:
        share = float(os.environ.get("BNVIZ_GPU_SHARE", "").strip())
    except ValueError:
        return GPU_SHARE
    return share if 0 < share <= 1 else GPU_SHARE


def reachable(address: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to ``host:port`` opens within ``timeout`` seconds."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return False
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def _connect() -> Engine:
    if wanted() != "ray":
        return Engine()
    address = os.environ.get("RAY_ADDRESS", "").strip()
    if address.startswith("ray://"):
        return Engine(fallback=("engine_client_mode", {"address": address}))
    if address not in ("", "auto", "local") and not reachable(address):
        log.warning("Ray head %s unreachable: training in this process", address)
        return Engine(fallback=("engine_unreachable", {"address": address}))
    try:
        import ray
    except ImportError:
        return Engine(fallback=("engine_missing", {}))
    try:
        ray.init(address=address or None, namespace=NAMESPACE, include_dashboard=False,
                 log_to_driver=False, ignore_reinit_error=True, configure_logging=False,
                 runtime_env={"py_modules": [str(PACKAGE)]})
        resources = ray.cluster_resources()
    except Exception:  # any failure to join: the app goes on in-process, the log says why
        log.exception("could not join the Ray cluster %r: training in this process", address)
        return Engine(fallback=("engine_unreachable", {"address": address or "local"}))
    return Engine("ray", None, address, dict(resources))


def current() -> Engine:
    """This process's engine, chosen (and Ray joined) at the first call."""
    global _engine
    with _lock:
        if _engine is None:
            _engine = _connect()
        return _engine


def uses_ray() -> bool:
    return current().kind == "ray"


def registry():
    """The registry of watchable runs: this process's (:data:`bnviz.training.watching.REGISTRY`),
    or the cluster's (:data:`bnviz.cluster.remote.REGISTRY`)."""
    if uses_ray():
        from bnviz.cluster import remote

        return remote.REGISTRY
    from bnviz.training import watching

    return watching.REGISTRY


def start_sweep(config, data):
    """The learning-rate sweep for ``config``, started: in a thread of this process on ``data()``,
    or on the cluster (:mod:`bnviz.cluster.background`, which loads the data on its node: ``data``
    is not called). Either answers ``id``, ``alive``, ``snapshot()``, ``stop()`` and ``join()``."""
    if uses_ray():
        from bnviz.cluster import background

        return background.remote_sweep(config)
    from bnviz.training.sweep_job import SweepJob

    return SweepJob(config, data()).start()


def start_class(members, setup, data):
    """A class's models trained together, started: as :func:`start_sweep` does."""
    if uses_ray():
        from bnviz.cluster import background

        return background.remote_class(members, setup)
    from bnviz.training.class_job import ClassJob

    return ClassJob(members, data(), setup).start()


def reset() -> None:
    """Forget the engine chosen (tests that start and stop clusters)."""
    global _engine
    with _lock:
        _engine = None
