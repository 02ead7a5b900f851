"""The live feed a fed page's browser asks for (bnviz/server/live_feed.py, feed_route.py): what it
holds plus what it receives is the whole table, for every gap, a Reset in between and a chart it
does not hold yet; the JSON keeps missing numbers and integers; a changed page says rerun, an
unknown or idle feed says gone, a failing poll says rerun instead of raising; the route refuses
bad requests."""

import asyncio
import concurrent.futures
import gzip
import itertools
import json

import numpy as np
import pandas as pd
import pytest
from starlette.requests import Request

from bnviz.server import feed_route, feeds, live_feed


def grown(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"step": np.sort(rng.integers(1, 40, rows)), "value": rng.normal(size=rows),
                         "model": rng.choice(["LeNet", "LeNet-BN"], rows)})


def table_at(frame: pd.DataFrame, version: int, source: str = "a") -> feeds.Table:
    part = frame[frame.step <= version].reset_index(drop=True)
    return feeds.Table(source, part, part.step.to_numpy())


class Browser:
    """What static/live_chart.js does with an answer: whole rows replace, others are appended
    if they follow what it holds (else it would ask again)."""

    def __init__(self):
        self.rows: dict[str, pd.DataFrame] = {}
        self.held: dict[str, list] = {}

    def receive(self, chart: dict) -> None:
        for name, feed in chart["feeds"].items():
            got = live_feed.frame_of(feed)
            if feed["whole"]:
                self.rows[name] = got
            else:
                assert self.held[name] == [feed["source"], feed["base"]], "a delta that does not follow"
                self.rows[name] = pd.concat([self.rows[name], got], ignore_index=True)
            self.held[name] = [feed["source"], feed["version"]]


def serve(tables: dict, stamp=0, texts=None, whole=frozenset()) -> tuple[live_feed.Feeds, dict, str]:
    """A feed whose poll returns what ``tables`` (chart → dataset → table) holds when asked."""
    registry, now = live_feed.Feeds(), {"tables": tables, "stamp": stamp, "texts": texts or {}}
    token = live_feed.new_token()
    registry.open(lambda: live_feed.Found(now["tables"], now["texts"], now["stamp"], {"c": {"y_hi": 2.5}}),
                  stamp, token, whole)
    return registry, now, token


def same(got: pd.DataFrame, table: feeds.Table) -> None:
    pd.testing.assert_frame_equal(got.reset_index(drop=True), table.frame, check_dtype=False)


def test_what_the_browser_holds_and_receives_is_the_whole_table_for_every_gap_and_a_reset():
    frame = grown(150)
    versions = [0, *sorted(set(frame.step))]
    for a, b in itertools.combinations_with_replacement(versions[::3] + [versions[-1]], 2):
        registry, now, token = serve({"c": {"data": table_at(frame, a)}})
        browser = Browser()
        browser.receive(registry.answer(token, {"c": {}})["charts"]["c"])  # a first look: whole
        same(browser.rows["data"], table_at(frame, a))
        now["tables"] = {"c": {"data": table_at(frame, b)}}
        answer = registry.answer(token, {"c": browser.held})
        sent = answer["charts"]["c"]["feeds"]["data"]
        held_rows = len(table_at(frame, a).frame)
        assert sent["whole"] == (held_rows == 0)  # only what is new (holding nothing: everything)
        assert len(live_feed.frame_of(sent)) == len(table_at(frame, b).frame) - held_rows
        browser.receive(answer["charts"]["c"])
        same(browser.rows["data"], table_at(frame, b))
        assert answer["charts"]["c"]["params"] == {"y_hi": 2.5} and answer["rerun"] is False
    # A Reset in between (a new source): the whole new table, in place of the old one.
    now["tables"] = {"c": {"data": table_at(frame, 12, source="b")}}
    answer = registry.answer(token, {"c": browser.held})
    assert answer["charts"]["c"]["feeds"]["data"]["whole"]
    browser.receive(answer["charts"]["c"])
    same(browser.rows["data"], table_at(frame, 12, source="b"))


def test_a_tailed_dataset_gets_its_newest_capture_alone_and_the_whole_history_once_asked():
    """A histogram grid whose scrubber follows the newest capture tails its history: each answer
    brings the newest capture's rows in place of what it held (nothing while no capture came), and
    once the scrubber is touched the browser holds nothing of it and receives every row."""
    rows = pd.DataFrame({"capture": np.repeat(np.arange(8), 3), "cell": np.tile(np.arange(3), 8),
                         "value": np.random.default_rng(2).normal(size=24)})

    def at(capture: int, source: str = "run") -> feeds.Table:
        part = rows[rows.capture <= capture].reset_index(drop=True)
        return feeds.Table(source, part, part.capture.to_numpy())

    def newest(table: feeds.Table) -> pd.DataFrame:
        return table.frame[table.frame.capture == table.frame.capture.max()].reset_index(drop=True)

    registry, now, token = serve({"c": {"data": at(2)}})
    browser = Browser()
    for capture in (2, 2, 3, 6, 6, 7):
        now["tables"] = {"c": {"data": at(capture)}}
        held = ["tail", *browser.held["data"]] if "data" in browser.held else ["tail"]
        sent = registry.answer(token, {"c": {"data": held}})["charts"]["c"]["feeds"]["data"]
        came = "data" not in browser.held or browser.held["data"][1] != capture
        assert sent["whole"] == came and len(live_feed.frame_of(sent)) == (3 if came else 0)
        browser.receive({"feeds": {"data": sent}})
        pd.testing.assert_frame_equal(browser.rows["data"], newest(at(capture)), check_dtype=False)
    # The scrubber touched: the browser holds nothing of it, and receives it all; then deltas again.
    sent = registry.answer(token, {"c": {}})["charts"]["c"]["feeds"]["data"]
    browser.receive({"feeds": {"data": sent}})
    same(browser.rows["data"], at(7))
    now["tables"] = {"c": {"data": at(7, source="reset")}}  # a Reset: the new run's newest capture
    sent = registry.answer(token, {"c": {"data": ["tail", *browser.held["data"]]}})["charts"]["c"]["feeds"]["data"]
    assert sent["whole"] and sent["source"] == "reset" and len(live_feed.frame_of(sent)) == 3
    # A table without captures is sent as any other, tailed or not.
    now["tables"] = {"c": {"data": table_at(grown(30), 20)}}
    sent = registry.answer(token, {"c": {"data": ["tail"]}})["charts"]["c"]["feeds"]["data"]
    assert len(live_feed.frame_of(sent)) == len(table_at(grown(30), 20).frame)


def test_a_chart_the_browser_does_not_show_gets_nothing_and_one_it_holds_wrongly_gets_everything():
    frame = grown(60)
    registry, _, token = serve({"c": {"data": table_at(frame, 30)}, "other": {"data": table_at(frame, 30)}})
    answer = registry.answer(token, {"c": {"data": ["a", "not a version"]}})
    assert list(answer["charts"]) == ["c"]
    assert answer["charts"]["c"]["feeds"]["data"]["whole"]


def test_the_json_keeps_every_bit_of_the_numbers_missing_values_categories_and_text():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"i": np.array([1, 2, 3], dtype=np.int64), "x": [0.1, np.nan, np.inf],
                          "share": rng.random(3).astype(np.float32), "b": [True, False, True],
                          "model": pd.Categorical(["LeNet-BN", None, "LeNet"], categories=["LeNet", "LeNet-BN"]),
                          "s": ["conv1", "fc2", "第1层"]})
    sent = json.loads(json.dumps(live_feed.rows_json(frame)))  # as it travels
    back = live_feed.frame_of(sent)
    assert back["i"].tolist() == [1, 2, 3] and back["b"].tolist() == [True, False, True]
    # No arithmetic on the way (the numbers' bytes are copied), so exact on any CPU; NaN and inf kept.
    np.testing.assert_array_equal(back["x"].to_numpy(), frame["x"].to_numpy())
    assert back["share"].dtype == np.float32
    assert back["share"].to_numpy().tobytes() == frame["share"].to_numpy().tobytes()
    assert back["model"][[0, 2]].tolist() == ["LeNet-BN", "LeNet"] and pd.isna(back["model"][1])
    assert back["s"].tolist() == ["conv1", "fc2", "第1层"]
    # A column of arrays (a histogram's shares, one array a row): each row's own numbers back.
    arrays = pd.DataFrame({"capture": [0, 1, 2], "shares": list(rng.random((3, 5)).astype(np.float32))})
    back = live_feed.frame_of(json.loads(json.dumps(live_feed.rows_json(arrays))))
    for got, sent in zip(back["shares"], arrays["shares"]):
        assert got.dtype == np.float32 and got.tobytes() == sent.tobytes()
    # Compact: a capture's float32 shares take about a quarter of their decimal text.
    shares = pd.DataFrame(rng.random((240, 30)).astype(np.float32))
    assert len(json.dumps(live_feed.rows_json(shares))) < 0.5 * len(json.dumps(shares.astype(float).values.tolist()))


def test_shares_over_a_sample_travel_as_counts_and_come_back_as_the_same_float32():
    rng = np.random.default_rng(2)
    counts = rng.integers(0, 3000, (48, 50)) * (rng.random((48, 50)) < 0.5)  # half the bins empty
    sample = counts.sum(1)
    shares = (counts / sample[:, None]).astype(np.float32)  # as live_tables.histograms computes them
    frame = pd.DataFrame({"key": np.arange(48, dtype=np.int32), "capture": np.arange(48) // 16,
                          "shares": pd.Series(list(shares), dtype=object), "sample": sample.astype(np.int32)})
    sent = live_feed.rows_json(frame)
    assert sent["data"][2].keys() == {"u16", "over", "width"} and sent["data"][2]["over"] == "sample"
    back = live_feed.frame_of(json.loads(json.dumps(sent)))
    for got, had in zip(back["shares"], frame["shares"]):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, had, rtol=1e-6, atol=0)  # float32: a wrong count or sample is off by far more
    as_floats = frame.assign(sample=sample.astype(float))  # no integer column to count over: float32
    assert live_feed.rows_json(as_floats)["data"][2].keys() == {"f32", "width"}
    # About a half of the characters of float32, and fewer gzipped (random counts here: 0.59; a real
    # run's histograms 0.45–0.48, python -m bench live).
    zipped = [len(gzip.compress(json.dumps(live_feed.rows_json(f)).encode())) for f in (frame, as_floats)]
    assert len(json.dumps(sent)) < 0.55 * len(json.dumps(live_feed.rows_json(as_floats)))
    assert zipped[0] < 0.75 * zipped[1]
    # Counts past 65,535 travel as u32.
    big = frame.assign(sample=frame["sample"] * 1000)
    sent = live_feed.rows_json(big)
    assert "u32" in sent["data"][2]
    for got, had in zip(live_feed.frame_of(json.loads(json.dumps(sent)))["shares"], frame["shares"]):
        np.testing.assert_allclose(got, had, rtol=1e-6, atol=0)  # float32: a wrong count or sample is off by far more
    # Numbers that are not counts over the column, or a sample of 0 (an empty histogram), go as float32
    # (their bytes copied, no arithmetic: the same bytes back).
    for odd in (frame.assign(shares=pd.Series(list(rng.random((48, 50)).astype(np.float32)), dtype=object)),
                frame.assign(sample=np.where(np.arange(48) == 7, 0, frame["sample"]).astype(np.int32))):
        sent = live_feed.rows_json(odd)
        assert sent["data"][2].keys() == {"f32", "width"}
        for got, had in zip(live_feed.frame_of(json.loads(json.dumps(sent)))["shares"], odd["shares"]):
            assert got.tobytes() == had.tobytes()


def test_a_changed_page_says_rerun_an_unknown_or_idle_feed_says_gone_and_a_failed_poll_reruns(monkeypatch):
    frame = grown(20)
    registry, now, token = serve({"c": {"data": table_at(frame, 10)}}, stamp=("training", (), True),
                                 texts={"status": {"value": 0.5, "text": "step 10/20"}}, whole={2})
    answer = registry.answer(token, {})
    assert answer["rerun"] is False and answer["texts"]["status"]["text"] == "step 10/20"
    now["stamp"] = ("finished", (), True)
    answer = registry.answer(token, {})
    assert answer["rerun"] is True and answer["changed"] == [0]  # which part of the page's shape changed
    assert answer["whole"] is False  # drawn by the fragment: it runs again
    now["stamp"] = ("finished", (), False)  # drawn outside the fragment (the owner present): the whole page
    answer = registry.answer(token, {})
    assert answer["changed"] == [0, 2] and answer["whole"] is True
    assert registry.answer("not-a-token", {}) == {"gone": True}

    def failing():
        raise RuntimeError("the run's machine is gone")

    registry.open(failing, 0, token)
    assert registry.answer(token, {}) == {"rerun": True}
    registry.close(token)
    assert registry.answer(token, {}) == {"gone": True}
    # A feed nobody asked for in IDLE_S is closed when another opens.
    idle = live_feed.new_token()
    registry.open(lambda: live_feed.Found({}, {}, 0), 0, idle)
    monkeypatch.setattr(live_feed, "IDLE_S", -1.0)
    registry.open(lambda: live_feed.Found({}, {}, 0), 0, live_feed.new_token())
    assert registry.answer(idle, {}) == {"gone": True}


def _post(body: bytes):
    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    request = Request({"type": "http", "method": "POST", "path": "/bnviz/feed", "headers": [],
                       "query_string": b""}, receive)
    # On a thread of its own: a worker that has driven a browser has an event loop running here.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, feed_route._feed(request)).result()


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b'{"held": {}}', b'{"token": "x", "held": [1]}',
                                  b'{"token": "x", "held": {}}' + b" " * (feed_route.MAX_BODY + 1)])
def test_the_route_refuses_what_a_browser_never_sends(body):
    assert _post(body).status_code == 400


def test_the_route_answers_a_feed_and_an_unknown_token(monkeypatch):
    registry, _, token = serve({"c": {"data": table_at(grown(10), 40)}})
    monkeypatch.setattr(feed_route, "FEEDS", registry)
    answer = json.loads(_post(json.dumps({"token": token, "held": {"c": {}}}).encode()).body)
    sent = answer["charts"]["c"]["feeds"]["data"]
    assert sent["whole"] and len(live_feed.frame_of(sent)) == 10
    assert json.loads(_post(b'{"token": "unknown", "held": {}}').body) == {"gone": True}
