"""Runs a class can watch: one training, its owner, a watch code, and chart data shared by all.

The owner's page :meth:`Registry.create`\\ s a :class:`WatchedRun` around its job. Anyone with the
run's watch code (random, 16 bytes, URL-safe; never a counter or a session id) can
:meth:`Registry.find` it and read it, never control it: the registry hands out the run, and only
the owner's pages hold the job's controls. The run also has an owner token, as random, that only
the owner's browser keeps (never in a link): a reload, a second tab of that browser or the browser
reopened after a crash hands it back (:meth:`Registry.find_owned`) and takes the run back with its
controls (:meth:`Registry.owner_back`). When the last of the owner's pages has closed, the run
stays findable for ``grace_s`` seconds (``$BNVIZ_WATCH_GRACE``, default 600), then its job is
released and it is forgotten.

Chart data is computed once per run, snapshot version and view and shared by every viewer
(:meth:`WatchedRun.shared`): thirty students cost about what one does. Their refreshes still cost each a
few milliseconds of the server's (and the GIL's) time, so the class shares a budget of refreshes
per second (:meth:`WatchedRun.class_interval`): a large class on a small server refreshes less often
instead of slowing the training it watches.
"""

from __future__ import annotations

import math
import os
import secrets
import threading
import time
from collections import OrderedDict, deque

GRACE_S = 600.0
WATCHER_TIMEOUT_S = 15.0  # a watcher not seen for this long no longer counts
SHARED_ENTRIES = 64
CLASS_REFRESHES_PER_CORE = 3.0  # refreshes per second, per CPU core, that a run's watchers share
MAX_CLASS_INTERVAL_S = 10.0  # however large the class (a watcher is still counted: < WATCHER_TIMEOUT_S)


def _env_float(name: str, default: float, lo: float, hi: float) -> float:
    try:
        value = float(os.environ.get(name, "").strip())
    except ValueError:
        return default
    return value if lo <= value <= hi else default


def grace_from_env() -> float:
    return _env_float("BNVIZ_WATCH_GRACE", GRACE_S, 0, 7 * 86_400)


def class_budget() -> float:
    """Refreshes per second a run's watchers share: ``$BNVIZ_CLASS_REFRESHES`` (0: no limit), by
    default :data:`CLASS_REFRESHES_PER_CORE` per core of this machine."""
    return _env_float("BNVIZ_CLASS_REFRESHES", CLASS_REFRESHES_PER_CORE * (os.cpu_count() or 1), 0, 10_000)


class _Shared:
    """One shared value: being computed until ``done`` is set, then its value, its error, or
    ``abandoned`` (the computing thread was stopped, e.g. its page rerun: no error of the data)."""

    def __init__(self):
        self.done = threading.Event()
        self.value = None
        self.error: Exception | None = None
        self.abandoned = False


class WatchedRun:
    """An owner's training with a watch code, and what its viewers share. The owner may replace
    the job (Reset, a new Start after the end): the code, and so the QR code, stays."""

    def __init__(self, job, code: str, owner_token: str = "", owner: str = "owner"):
        self.job = job
        self.code = code
        self.owner_token = owner_token  # kept by the owner's browser only: it takes the run back
        self._owners = {owner}  # the owner's pages (browser sessions) that hold the run now
        self.ends_at: float | None = None  # when the grace period after the owner left runs out
        self._lock = threading.Lock()
        self._watchers: dict[str, float] = {}
        self._shared: OrderedDict = OrderedDict()
        self._timer: threading.Timer | None = None
        self.results: dict[str, tuple] = {}  # what the owner measured, for every viewer: name → (job id, step, value)
        self.tick_costs: deque = deque(maxlen=2000)  # seconds of server time of each page refresh

    @property
    def owner_present(self) -> bool:
        """Whether a page of the owner's holds the run now."""
        return bool(self._owners)

    # ---- watchers -----------------------------------------------------------------------
    def seen(self, viewer: str) -> None:
        """A watcher's page ran (called on each of its refreshes)."""
        with self._lock:
            self._watchers[viewer] = time.monotonic()

    def watchers(self) -> int:
        """Watchers seen in the last ``WATCHER_TIMEOUT_S`` seconds."""
        now = time.monotonic()
        with self._lock:
            self._watchers = {k: t for k, t in self._watchers.items() if now - t < WATCHER_TIMEOUT_S}
            return len(self._watchers)

    def class_interval(self, asked: float, budget: float | None = None) -> float:
        r"""The refresh interval of a watcher who asked for ``asked`` seconds (0: only on demand),
        such that the run's :math:`n` watchers together refresh at most :math:`B` times a second:

        .. math:: \Delta t = \begin{cases} \Delta t_\text{asked} & n / B \le \Delta t_\text{asked} \\
                  \min(\lceil n / B \rceil,\ 10) & \text{otherwise} \end{cases}

        A stretched interval is in whole seconds, so that a class of a changing size keeps it for a
        while (each change costs every watcher one full page run). ``budget`` :math:`B`: refreshes
        per second (default :func:`class_budget`; 0: no limit)."""
        budget = class_budget() if budget is None else budget
        if asked <= 0 or budget <= 0:
            return asked
        needed = self.watchers() / budget
        return asked if needed <= asked else min(float(math.ceil(needed)), MAX_CLASS_INTERVAL_S)

    def left(self, viewer: str) -> None:
        with self._lock:
            self._watchers.pop(viewer, None)

    # ---- shared data --------------------------------------------------------------------
    def shared(self, key, version: int, make):
        """``make()``, computed once per (job, ``key``, ``version``) for every viewer of this run.
        Viewers asking while it is being computed wait for that computation instead of starting
        their own (a new snapshot reaches thirty refreshes at once); a failure is theirs too, and
        the next ask computes again."""
        full = (self.job.id, key, version)
        with self._lock:
            entry = self._shared.get(full)
            mine = entry is None
            if mine:
                entry = self._shared[full] = _Shared()
                while len(self._shared) > SHARED_ENTRIES:
                    self._shared.popitem(last=False)
            else:
                self._shared.move_to_end(full)
        if not mine:
            entry.done.wait()
            if entry.abandoned:
                return self.shared(key, version, make)
            if entry.error is not None:
                raise entry.error
            return entry.value
        try:  # outside the lock: viewers of other views are not held up
            entry.value = make()
        except BaseException as exc:
            if isinstance(exc, Exception):
                entry.error = exc
            else:  # the thread was stopped (Streamlit's rerun and stop are BaseExceptions): not theirs
                entry.abandoned = True
            with self._lock:
                if self._shared.get(full) is entry:
                    del self._shared[full]
            raise
        finally:
            entry.done.set()
        return entry.value

    def result(self, name: str):
        """What the owner measured last for the current job (None if nothing, or for an older job)."""
        kept = self.results.get(name)
        return kept if kept is not None and kept[0] == self.job.id else None

    def forget_shared(self) -> None:
        with self._lock:
            self._shared.clear()


class Registry:
    """Every watchable run of this server process, by watch code."""

    def __init__(self, grace_s: float | None = None):
        self._grace_s = grace_s
        self._lock = threading.Lock()
        self._runs: dict[str, WatchedRun] = {}
        self._owned: dict[str, WatchedRun] = {}  # owner token → run

    @property
    def grace_s(self) -> float:
        return self._grace_s if self._grace_s is not None else grace_from_env()

    def create(self, job, owner: str = "owner") -> WatchedRun:
        """A new run around ``job``, held by the owner's page ``owner``."""
        run = WatchedRun(job, secrets.token_urlsafe(16), secrets.token_urlsafe(16), owner)
        with self._lock:
            self._runs[run.code] = run
            self._owned[run.owner_token] = run
        return run

    def find_owned(self, token: str | None) -> WatchedRun | None:
        """The run whose owner token this is, or None (unknown, ended, or not a token at all)."""
        if not token or len(token) > 64:
            return None
        with self._lock:
            run = self._owned.get(token)
        return run if run is not None and self.find(run.code) is run else None

    def owner_back(self, run: WatchedRun, owner: str) -> None:
        """A page of the owner's holds the run (again): a pending grace period is called off."""
        with self._lock:
            run._owners.add(owner)
            run.ends_at = None
            timer, run._timer = run._timer, None
        if timer is not None:
            timer.cancel()

    def find(self, code: str | None) -> WatchedRun | None:
        """The run with this watch code, or None (unknown, expired, or not a code at all)."""
        if not code or len(code) > 64:
            return None
        with self._lock:
            run = self._runs.get(code)
        if run is not None and run.ends_at is not None and time.monotonic() >= run.ends_at:
            self.drop(run)
            return None
        return run

    def owner_left(self, run: WatchedRun, owner: str = "owner") -> None:
        """A page of the owner's closed. When none holds the run any more, it stays watchable (and
        can be taken back) for the grace period, then goes."""
        grace = self.grace_s
        with self._lock:
            run._owners.discard(owner)
            if run._owners or run._timer is not None:
                return
            if grace > 0:
                run.ends_at = time.monotonic() + grace
                run._timer = threading.Timer(grace, self._expire, args=(run,))
                run._timer.name = "bnviz-watch-grace"
                run._timer.daemon = True
                run._timer.start()
        if grace <= 0:
            self.drop(run)

    def _expire(self, run: WatchedRun) -> None:
        """The grace period has run out, unless the owner came back meanwhile."""
        with self._lock:
            if run._owners:
                return
        self.drop(run)

    def drop(self, run: WatchedRun) -> None:
        """Release the run's job and forget it (its watchers see that it has ended)."""
        with self._lock:
            if self._runs.get(run.code) is run:
                del self._runs[run.code]
            if self._owned.get(run.owner_token) is run:
                del self._owned[run.owner_token]
        if run._timer is not None and run._timer is not threading.current_thread():
            run._timer.cancel()
        run.job.release()
        run.forget_shared()

    def runs(self) -> list[WatchedRun]:
        with self._lock:
            return list(self._runs.values())

    def drop_all(self) -> None:
        for run in self.runs():
            self.drop(run)


REGISTRY = Registry()
