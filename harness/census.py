"""``python -m harness.census FILE streamlit-args…``: run Streamlit with a thread census.

Tests only. On SIGUSR1 the server's main thread writes to FILE, as JSON, every Python thread it
has (name, OS id, and the worker pool it serves, if any), the memory blocks Python's allocator
holds, glibc's malloc arenas and what they hold, and the Streamlit sessions alive. OS threads
missing from the list are native ones (torch's OpenMP team, BLAS). The load test uses it to tell
what a class leaves behind from the worker pools of the web server and of Streamlit, which keep
idle threads for reuse by design."""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import threading
import time
import weakref

from bnviz.server import memory


def pool_of(thread: threading.Thread) -> tuple[str, int] | None:
    """(pool, its most threads) for a worker of AnyIO's thread pool (Starlette's file serving,
    Streamlit's 28 tokens) or of a ``concurrent.futures`` executor; None for any other thread."""
    if thread.name == "AnyIO worker thread":
        from streamlit.web.server.starlette.starlette_server_config import ANYIO_STATIC_FILE_THREAD_TOKENS

        return "anyio", ANYIO_STATIC_FILE_THREAD_TOKENS
    target = getattr(thread, "_target", None)
    if getattr(target, "__module__", "") == "concurrent.futures.thread" and target.__name__ == "_worker":
        executor = thread._args[0]()  # the worker holds a weak reference to its executor
        if executor is not None:
            return f"executor-{id(executor)}", executor._max_workers
    return None


_SESSIONS: weakref.WeakSet = weakref.WeakSet()  # every AppSession made in this process, while alive


def _track_sessions() -> None:
    """Keep a weak reference to every Streamlit session made from now on. (Not a scan of
    ``gc.get_objects()``: that hands out objects other threads are still building, and a tuple
    under construction then fails with "SystemError: bad argument to internal function".)"""
    from streamlit.runtime.app_session import AppSession

    made = AppSession.__init__

    def init(self, *args, **kwargs):
        made(self, *args, **kwargs)
        _SESSIONS.add(self)

    AppSession.__init__ = init


def sessions() -> int:
    """Streamlit sessions alive in this process (open tabs, and closed ones kept for reconnecting)."""
    gc.collect()
    return len(_SESSIONS)


def runs() -> list[dict]:
    """The watchable runs of this server: watchers, steps trained so far, seconds spent on test
    accuracy so far, the capture stride (captures every ``hist_every`` × stride steps: it doubles
    when the history is thinned, and the run then trains faster by itself), and the server time of
    each page refresh (seconds, the latest 2000)."""
    from bnviz.training.watching import REGISTRY

    return [{"code": run.code, "watchers": run.watchers(), "steps": run.job.steps_done,
             "testing_s": run.job.testing_s(), "state": run.job.state,
             "stride": getattr(getattr(run.job, "history", None), "stride", None),
             "lr": run.job.config.lr, "epochs": run.job.config.epochs, "ticks": list(run.tick_costs)}
            for run in REGISTRY.runs()]


def jobs() -> int:
    """The trainings running or paused on this server (what its pages show as "trainings on this server")."""
    from bnviz.training import MANAGER

    return len(MANAGER.active())


def proc_status(pid: int) -> dict:
    """A process's OS threads and resident memory (MB), from ``/proc``."""
    fields = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return {"threads": int(fields["Threads"]), "rss_mb": int(fields["VmRSS"].split()[0]) / 1024}


def _install(path: str) -> None:
    def write(signum, frame):
        if os.path.exists(f"{path}.trim"):  # asked for the memory the server keeps (take's trim)
            os.remove(f"{path}.trim")
            memory.trim()
        rows = [{"name": t.name, "tid": t.native_id, "pool": pool_of(t)} for t in threading.enumerate()]
        tmp = f"{path}.tmp"
        with open(tmp, "w") as fh:
            json.dump({"threads": rows, "blocks": sys.getallocatedblocks(), "arenas": memory.arenas(),
                       "heap": memory.heap(),
                       "sessions": sessions(), "runs": runs(), "jobs": jobs(), "time": time.monotonic(),
                       "rss_mb": proc_status(os.getpid())["rss_mb"]}, fh)
        os.replace(tmp, path)

    signal.signal(signal.SIGUSR1, write)


def take(pid: int, path: str, timeout: float = 10.0, trim: bool = False) -> dict:
    """Ask the server for its census. Returns ``pools`` (pool → [threads, most threads]),
    ``python`` (the names of all other Python threads), ``native`` (the count of OS threads
    Python does not know), ``total``, ``blocks``, ``arenas`` (glibc's), ``sessions``, ``runs``,
    ``jobs``, ``rss_mb`` and ``heap`` (:func:`bnviz.server.memory.heap`). With ``trim``, the
    server first gives back the pages it holds free (:func:`bnviz.server.memory.trim`, which it
    does every 30 s itself): ``rss_mb`` is then the memory it keeps, not also what it frees at its
    next trim."""
    before = os.stat(path).st_mtime_ns if os.path.exists(path) else None
    if trim:
        open(f"{path}.trim", "w").close()
    os.kill(pid, signal.SIGUSR1)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path) and os.stat(path).st_mtime_ns != before:
            break
        time.sleep(0.05)
    else:
        raise TimeoutError("the server wrote no thread census")
    with open(path) as fh:
        census = json.load(fh)
    rows = census["threads"]
    tids = {int(t) for t in os.listdir(f"/proc/{pid}/task")}
    pools: dict[str, list[int]] = {}
    for r in rows:
        if r["pool"]:
            name, most = r["pool"]
            pools.setdefault(name, [0, most])[0] += 1
    return {"pools": pools, "python": sorted(r["name"] for r in rows if not r["pool"]),
            "native": len(tids - {r["tid"] for r in rows}), "total": len(tids),
            "blocks": census["blocks"], "arenas": census["arenas"], "sessions": census["sessions"],
            "runs": census["runs"], "jobs": census["jobs"], "time": census["time"], "rss_mb": census["rss_mb"],
            "heap": census["heap"]}


if __name__ == "__main__":
    _install(sys.argv[1])
    _track_sessions()
    sys.argv = ["streamlit", *sys.argv[2:]]
    from streamlit.web.cli import main

    sys.exit(main())
