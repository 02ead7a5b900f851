"""Load test: a classroom of browser sessions against one server (20 by default, two measured
rounds after a warm-up round). See tests/browser/load.py; ``python -m bench load`` prints the same
figures with Streamlit's default reconnect window."""


from tests.browser.load import CAP, classroom, log_errors, sessions_from_env

# Streamlit keeps a closed tab's session for 120 s so that a dropped connection can resume it.
# Here it keeps them 5 s, so each round starts without the last one's sessions and any memory a
# round leaves behind is ours.
SESSION_TTL = 5


def test_a_class_of_students_on_one_server(browser):
    sessions = sessions_from_env(20)
    training = min(5, sessions)
    result = classroom(sessions=sessions, training=training, rounds=2, watch_s=10.0, browser=browser,
                       session_ttl=SESSION_TTL)
    print("\nload test:", result)  # the figures, visible with -s and in CI logs on failure
    # No exception in the server log but Streamlit's own websocket-close race (see load.py).
    assert result["log_errors"] == 0, "the server logged an exception"
    for r in [result["warmup"], *result["rounds"]]:
        assert r["exceptions"] == 0
        # The cap held: exactly CAP trainings ran, every other Start was refused with its reason.
        assert r["started"] == min(CAP, training) and r["refused"] == training - r["started"], r
        # The live page kept refreshing under load, and its progress bar moved.
        assert r["ticks"] >= 3 and r["progress_moved"], f"the live page stopped refreshing: {r}"
        assert r["jobs_after"] == 0 and r["jobs_gone_s"] <= 30, r
        # Each job's OS threads carry its name (its OpenMP team inherits it): all gone after close.
        assert r["training_threads_peak"] >= r["started"] and r["training_threads_after"] == 0, r
    base = result["baseline"]
    for r in result["rounds"]:
        # Within 30 s of the close nothing is left beyond the warm-up baseline (Python threads by
        # name, native ones by count) but idle pool workers, each pool within its cap: AnyIO's
        # file-serving threads (Streamlit's 28 tokens) and concurrent.futures executors.
        assert r["left_python"] == [] and r["left_native"] == 0 and r["threads_back_s"] <= 30, r
        assert all(n <= most for n, most in r["pools_after"].values()), r
        # AnyIO stops threads idle for 10 s when it next hands out work: after the next visitor's
        # request (11 s after the last page load) the process has no more threads than at the
        # baseline, within 30 s of the close.
        assert r["next_request_s"] <= 30 and r["threads_next_request"] <= base["threads"], r
        # Every closed tab's session is freed once its reconnect window has passed: after one more
        # visit only that visit's session is alive. Nothing of ours keeps a session.
        assert r["sessions_after_visit"] <= 1, r
        # No Python objects pile up: the allocator's blocks stay within 1 % of the baseline's.
        assert r["blocks_after"] <= 1.01 * base["blocks"], r
    first, last = result["rounds"]
    # A new pool per session or per round would be a leak.
    assert len(last["pools_after"]) <= len(first["pools_after"]), (first, last)
    # Memory does not keep growing: the second round ends where the first did (5 % for the
    # allocator's noise), and both within 20 % of the settled footprint after the warm-up.
    assert last["rss_after_mb"] <= 1.05 * first["rss_after_mb"], (first, last)
    assert max(first["rss_after_mb"], last["rss_after_mb"]) <= 1.20 * base["rss_mb"], (base, first, last)


LOG = """  You can now view your Streamlit app in your browser.
Exception in ASGI application
Traceback (most recent call last):
  File "/x/streamlit/web/server/starlette/starlette_websocket.py", line 516, in _websocket_endpoint
    data = await websocket.receive_bytes()
starlette.websockets.WebSocketDisconnected: WebSocket is not connected. Need to call "accept" first.

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/x/streamlit/web/server/starlette/starlette_websocket.py", line 524, in _websocket_endpoint
    await websocket.close()
  File "/x/starlette/websockets.py", line 104, in send
    raise WebSocketDisconnected('Cannot call "send" once a close message has been sent.')
starlette.websockets.WebSocketDisconnected: Cannot call "send" once a close message has been sent.
"""
OURS = """Traceback (most recent call last):
  File "/x/bnviz/training.py", line 3, in _run
ValueError: boom
"""


def test_the_server_log_counts_our_exceptions_and_sets_apart_streamlits_websocket_race():
    assert log_errors(LOG) == {"log_errors": 0, "websocket_races": 1}
    assert log_errors(LOG + OURS + LOG) == {"log_errors": 1, "websocket_races": 2}
    # The same race with our code on the stack is ours.
    assert log_errors(LOG.replace("/x/streamlit/web", "/x/pages/web")) == {"log_errors": 1, "websocket_races": 0}
    assert log_errors("no traceback here") == {"log_errors": 0, "websocket_races": 0}
