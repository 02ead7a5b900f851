"""Load test: a classroom of browser sessions against one server (20 by default, one measured
round after a warm-up round; ``BNVIZ_LOAD_ROUNDS`` for more). See tests/browser/load.py;
``python -m bench load`` is the soak: three measured rounds with the same checks."""

import pytest

from tests.browser.load import check, classroom, log_errors, rounds_from_env, sessions_from_env

# Streamlit keeps a closed tab's session for 120 s so that a dropped connection can resume it.
# Here it keeps them 5 s, so each round starts without the last one's sessions and any memory a
# round leaves behind is ours.
SESSION_TTL = 5


@pytest.mark.load
def test_a_class_of_students_on_one_server(browser):
    sessions = sessions_from_env(20)
    result = classroom(sessions=sessions, training=min(5, sessions), rounds=rounds_from_env(1),
                       watch_s=10.0, browser=browser, session_ttl=SESSION_TTL)
    print("\nload test:", result)  # the figures, visible with -s and in CI logs on failure
    assert check(result) == [], result


def test_the_checks_see_a_leak_between_rounds():
    """``check`` is what the test asserts: a round that leaves a thread, a session or memory
    behind, or a cap that did not hold, is reported (the soak in ``python -m bench load``)."""
    good = {"exceptions": 0, "started": 2, "refused": 3, "ticks": 5, "progress_moved": True,
            "jobs_after": 0, "jobs_gone_s": 2.0, "training_threads_peak": 4, "training_threads_after": 0,
            "left_python": [], "left_native": 0, "threads_back_s": 3.0, "pools_after": {"anyio": [3, 28]},
            "next_request_s": 14.0, "threads_next_request": 30, "sessions_after_visit": 1,
            "blocks_after": 100_000, "rss_after_mb": 500}
    result = {"training": 5, "log_errors": 0, "warmup": good, "rounds": [good, good],
              "baseline": {"threads": 30, "blocks": 100_000, "rss_mb": 480}}
    assert check(result) == []
    for change, words in (({"left_python": ["bnviz-train-3"]}, "left behind"),
                          ({"started": 3, "refused": 2}, "cap"),
                          ({"sessions_after_visit": 4}, "sessions"),
                          ({"rss_after_mb": 560}, "memory")):
        bad = {**result, "rounds": [good, {**good, **change}]}
        assert any(words in problem for problem in check(bad)), change


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
