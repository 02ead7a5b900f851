"""Watchable runs (bnviz.training.watching): unguessable codes, shared data computed once, the grace period."""

import threading
import time

from bnviz.training.watching import Registry


class FakeJob:
    """What a WatchedRun needs of a job: an id and release()."""

    def __init__(self, job_id=1):
        self.id = job_id
        self.released = threading.Event()

    def release(self):
        self.released.set()


def test_codes_are_long_random_and_only_an_exact_code_finds_a_run():
    reg = Registry(grace_s=60)
    runs = [reg.create(FakeJob(i)) for i in range(50)]
    codes = [r.code for r in runs]
    assert len(set(codes)) == 50 and all(len(c) >= 20 for c in codes)  # 16 random bytes, URL-safe
    assert reg.find(codes[7]) is runs[7]
    for wrong in (None, "", codes[7][:-1], codes[7].upper() if codes[7] != codes[7].upper() else codes[7] + "x",
                  "1", "x" * 10_000):
        assert reg.find(wrong) is None


def test_shared_data_is_computed_once_per_version_for_every_viewer():
    run = Registry(grace_s=60).create(FakeJob())
    calls = []

    def make():
        calls.append(1)
        return object()

    first = [run.shared("hist", 3, make) for _ in range(30)]  # thirty viewers, one snapshot
    assert len(calls) == 1 and all(v is first[0] for v in first)
    run.shared("hist", 4, make)  # a new snapshot: computed again
    assert len(calls) == 2
    run.job = FakeJob(2)  # the owner's Reset: the same code, a new job, nothing of the old one reused
    run.shared("hist", 4, make)
    assert len(calls) == 3


def test_a_run_stays_watchable_for_its_grace_period_then_is_freed():
    reg = Registry(grace_s=0.3)
    job = FakeJob()
    run = reg.create(job)
    reg.owner_left(run)
    assert reg.find(run.code) is run and not job.released.is_set()  # the class still watches
    assert job.released.wait(5)  # then the job is released …
    deadline = time.time() + 5
    while reg.runs() and time.time() < deadline:
        time.sleep(0.01)
    assert reg.find(run.code) is None and reg.runs() == []  # … and the run forgotten
    assert not [t for t in threading.enumerate() if t.name == "bnviz-watch-grace"]


class SeenWait(threading.Event):
    """An event that says when a thread has begun to wait on it."""

    def __init__(self):
        super().__init__()
        self.waiting = threading.Event()

    def wait(self, timeout=None):
        self.waiting.set()
        return super().wait(timeout)


def waiter_seen(run) -> threading.Event:
    """While the run's one shared value is being computed: an event set once another viewer
    waits for it (so a test releases the computation only then, on any machine's pace)."""
    [entry] = run._shared.values()
    entry.done = SeenWait()
    return entry.done.waiting


def test_viewers_asking_during_the_computation_wait_for_it_instead_of_computing_again():
    run = Registry(grace_s=60).create(FakeJob())
    calls, release = [], threading.Event()

    def make():
        calls.append(1)
        release.wait(5)  # a slow computation: every other viewer arrives while it runs
        return object()

    got = []
    viewers = [threading.Thread(target=lambda: got.append(run.shared("ridge", 7, make))) for _ in range(10)]
    for v in viewers:
        v.start()
    time.sleep(0.2)
    release.set()
    for v in viewers:
        v.join(5)
    assert len(calls) == 1 and len(got) == 10 and all(v is got[0] for v in got)


def two_viewers(run, key, version, first, second) -> list:
    """Viewer 1 computes ``run.shared(key, version, …)`` with ``first``, held until viewer 2 is
    seen waiting for it with ``second``; then both finish. What each got: a value or what it raised."""
    started, release, got = threading.Event(), threading.Event(), [None, None]

    def held():
        started.set()
        release.wait(5)
        return first()

    def viewer(i, make):
        try:
            got[i] = run.shared(key, version, make)
        except BaseException as exc:
            got[i] = exc

    one = threading.Thread(target=viewer, args=(0, held))
    one.start()
    assert started.wait(5)
    two = threading.Thread(target=viewer, args=(1, second))
    seen = waiter_seen(run)
    two.start()
    assert seen.wait(5)
    release.set()
    one.join(5)
    two.join(5)
    return got


def test_a_failed_computation_reaches_its_waiters_and_the_next_ask_computes_again():
    run = Registry(grace_s=60).create(FakeJob())

    def boom():
        raise ValueError("no data")

    got = two_viewers(run, "pct", 1, boom, lambda: "never called")
    assert all(isinstance(g, ValueError) for g in got)  # the one computing and the one waiting
    assert run.shared("pct", 1, lambda: "fresh") == "fresh"


def test_a_computation_stopped_by_its_page_is_redone_by_a_waiting_viewer():
    """Streamlit stops a script thread for a rerun with a BaseException: that is not an error
    of the data, so a viewer waiting for it computes the value itself instead of raising it."""
    run = Registry(grace_s=60).create(FakeJob())

    class Stopped(BaseException):
        pass

    def stopped():
        raise Stopped

    first, second = two_viewers(run, "hist", 2, stopped, lambda: "computed by the waiter")
    assert isinstance(first, Stopped) and second == "computed by the waiter"


def test_a_large_class_refreshes_less_often_within_its_budget(monkeypatch):
    """The watchers of one run refresh at most B times a second together: each asks for its own
    interval and gets ⌈n / B⌉ whole seconds once the class needs it, at most 10 s."""
    import math

    from bnviz.training import watching

    run = Registry(grace_s=60).create(FakeJob())

    def with_watchers(n):
        run._watchers.clear()
        for i in range(n):
            run.seen(f"student-{i}")
        return run

    for n, asked, budget, expect in [(1, 1.0, 6, 1.0), (6, 1.0, 6, 1.0), (7, 1.0, 6, 2.0), (30, 1.0, 6, 5.0),
                                     (31, 1.0, 6, 6.0), (30, 5.0, 6, 5.0), (12, 0.5, 6, 2.0), (3, 0.5, 6, 0.5),
                                     (200, 1.0, 6, 10.0), (30, 2.0, 30, 2.0), (30, 0.0, 6, 0.0), (30, 1.0, 0, 1.0)]:
        got = with_watchers(n).class_interval(asked, budget)
        assert got == expect, (n, asked, budget, got)
        if asked and budget and got < watching.MAX_CLASS_INTERVAL_S:
            assert n / got <= budget + 1e-9  # the class keeps its budget …
            assert got == asked or n / (got - 1) > budget  # … and no slower than it must
    # A watcher gone quiet for WATCHER_TIMEOUT_S no longer counts.
    with_watchers(30)
    for viewer in list(run._watchers)[:24]:
        run._watchers[viewer] -= watching.WATCHER_TIMEOUT_S + 1
    assert run.class_interval(1.0, 6) == 1.0
    # The budget: per core by default, or the environment's (0: no limit; nonsense is ignored).
    monkeypatch.setattr(watching.os, "cpu_count", lambda: 2)
    for raw, expect in [("", 6.0), ("12", 12.0), ("0", 0.0), ("-3", 6.0), ("many", 6.0)]:
        monkeypatch.setenv("BNVIZ_CLASS_REFRESHES", raw)
        assert watching.class_budget() == expect
    monkeypatch.setenv("BNVIZ_CLASS_REFRESHES", "")
    assert with_watchers(30).class_interval(1.0) == math.ceil(30 / (watching.CLASS_REFRESHES_PER_CORE * 2))


def test_the_owner_token_finds_the_run_and_nothing_else_does():
    reg = Registry(grace_s=60)
    runs = [reg.create(FakeJob(i), owner=f"page{i}") for i in range(20)]
    tokens = [r.owner_token for r in runs]
    assert len(set(tokens)) == 20 and all(len(tok) >= 20 for tok in tokens)
    assert not set(tokens) & {r.code for r in runs}  # the watch link never carries control
    assert reg.find_owned(tokens[3]) is runs[3]
    for wrong in (None, "", runs[3].code, tokens[3][:-1], tokens[3] + "x", "x" * 10_000):
        assert reg.find_owned(wrong) is None
    reg.drop(runs[3])
    assert reg.find_owned(tokens[3]) is None  # an ended run cannot be taken back


def test_a_reload_takes_the_run_back_before_its_grace_period_ends():
    """The owner's old page closes (its session ends after a reload), the new one takes the run
    back: no grace period is left running, and the job is not released when it would have ended."""
    reg = Registry(grace_s=0.3)
    job = FakeJob()
    run = reg.create(job, owner="old tab")
    reg.owner_left(run, "old tab")
    assert not run.owner_present and run.ends_at is not None
    reg.owner_back(reg.find_owned(run.owner_token), "new tab")
    assert run.owner_present and run.ends_at is None
    assert not job.released.wait(0.6)  # past the grace period: still the owner's
    assert reg.find(run.code) is run


def test_the_grace_period_starts_when_the_last_of_the_owners_pages_has_closed():
    reg = Registry(grace_s=0.2)
    job = FakeJob()
    run = reg.create(job, owner="tab 1")
    reg.owner_back(run, "tab 2")  # a second tab of the same browser
    reg.owner_left(run, "tab 1")
    assert run.owner_present and run.ends_at is None and not job.released.wait(0.4)
    reg.owner_left(run, "tab 2")
    assert job.released.wait(5) and reg.find_owned(run.owner_token) is None
