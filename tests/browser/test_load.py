"""Load test: a classroom of browser sessions against one server (20 by default; CI runs the same
20 with one measured round after a warm-up round). See tests/browser/load.py."""

import os

from tests.browser.load import CAP, classroom, sessions_from_env


def test_a_class_of_students_on_one_server(browser):
    sessions = sessions_from_env(20)
    training = min(5, sessions)
    result = classroom(sessions=sessions, training=training, rounds=1, watch_s=10.0, browser=browser)
    print("\nload test:", result)  # the figures, visible with -s and in CI logs on failure
    assert result["log_errors"] == 0, "the server logged an exception"
    for r in [result["warmup"], *result["rounds"]]:
        assert r["exceptions"] == 0
        # The cap held: exactly CAP trainings ran, every other Start was refused with its reason.
        assert r["started"] == min(CAP, training) and r["refused"] == training - r["started"], r
        assert r["ticks"] >= 3, f"the live page stopped refreshing under load: {r}"
        assert r["jobs_after"] == 0 and r["jobs_gone_s"] <= 30, r
        # Each job's OS threads carry its name (its OpenMP team inherits it): all gone after close.
        assert r["training_threads_peak"] >= r["started"] and r["training_threads_after"] == 0, r
    r = result["rounds"][-1]
    # Within 30 s the thread count is back at the warm-up baseline, give or take the server's
    # worker pools (asyncio's default executor keeps up to min(32, cores + 4) idle threads).
    pool = min(32, (os.cpu_count() or 1) + 4)
    assert r["threads_after"] <= result["baseline"]["threads"] + pool, r
    # Memory does not keep growing: a whole round adds less than 10 % to the settled footprint.
    assert r["rss_after_mb"] <= 1.10 * result["baseline"]["rss_mb"], r
