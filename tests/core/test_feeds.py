"""What a live chart's viewer receives: the rows after those it holds, which with them make the
whole table — for any gap between two versions, a Reset, a new view and a thinned history, on
tables of real training snapshots (:mod:`bnviz.training.live_tables`)."""

import itertools
import threading
import time

import numpy as np
import pandas as pd
import pytest

from bnviz.batchnorm.models import HIDDEN_LAYERS, WIDTHS
from bnviz.data import fashion_mnist
from bnviz.server import feeds
from bnviz.server.feeds import Delta, Gap, Held, Table, apply, delta
from bnviz.training import Job, TrainConfig, bn_frames, live_tables


def grown(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"step": np.sort(rng.integers(1, 50, rows)), "value": rng.normal(size=rows)})


def table_at(frame: pd.DataFrame, version: int, source: str = "a") -> Table:
    """The table as it was when its newest row was at ``version`` (rows are only appended)."""
    part = frame[frame.step <= version].reset_index(drop=True)
    return Table(source, part, part.step.to_numpy())


def receive(frame, held, table) -> tuple[pd.DataFrame, Held]:
    return apply(frame, held, delta(table, held))


def test_held_rows_and_the_delta_make_the_whole_table_for_every_gap():
    frame = grown(120)
    versions = [0, *sorted(set(frame.step))]
    for a, b in itertools.combinations_with_replacement(versions, 2):
        old, new = table_at(frame, a), table_at(frame, b)
        held_frame, held = receive(None, None, old)  # a first look: the whole table
        got, now = receive(held_frame, held, new)
        pd.testing.assert_frame_equal(got, new.frame)
        assert now == Held("a", new.version)
        sent = delta(new, held)
        assert not sent.whole and len(sent.rows) == len(new.frame) - len(old.frame)  # only what is new


def test_a_new_source_or_a_viewer_ahead_of_the_table_receives_the_whole_table():
    frame = grown(80)
    old_frame, held = receive(None, None, table_at(frame, 40))
    for new in (table_at(frame, 45, source="b"),  # a Reset, another layer, a thinned history
                table_at(frame, 10)):  # a viewer ahead of the server (restarted): never its rows twice
        sent = delta(new, held)
        assert sent.whole and sent.base == -1
        got, _ = apply(old_frame, held, sent)
        pd.testing.assert_frame_equal(got, new.frame)


def test_a_delta_that_does_not_follow_what_the_viewer_holds_is_refused():
    frame = grown(60)
    t10, t20, t30 = (table_at(frame, v) for v in (10, 20, 30))
    held_frame, held = receive(None, None, t10)
    skipped = delta(t30, Held("a", t20.version))  # the message for 20 → 30, to a viewer at 10
    with pytest.raises(Gap):
        apply(held_frame, held, skipped)
    with pytest.raises(Gap):
        apply(None, None, delta(t30, Held("a", 10)))  # a viewer that holds nothing


def test_a_broken_delta_fails_the_identity():
    """Sending the rows *from* the held version (≥ instead of >) repeats its last rows: the check
    above sees it at once."""
    frame = grown(60)
    old, new = table_at(frame, 20), table_at(frame, 40)
    held_frame, held = receive(None, None, old)
    keep = new.versions >= held.version
    broken = Delta(new.source, False, held.version, new.version, new.frame[keep].reset_index(drop=True))
    got, _ = apply(held_frame, held, broken)
    assert len(got) > len(new.frame)


def test_a_table_whose_versions_go_back_is_refused():
    with pytest.raises(ValueError):
        Table("a", pd.DataFrame({"x": [1, 2]}), np.array([2, 1]))
    small = feeds.whole("marks/1", pd.DataFrame({"x": [1, 2]}))
    assert small.version == 0 and delta(small, Held("marks/0", 0)).whole


# ---- tables of a real training run ----------------------------------------------------------

METRICS = {"train_acc": "train", "test_acc": "test"}
SOURCES = {"running": "running", "batch": "batch"}
TABLES = {
    "captures": live_tables.captures, "loss": live_tables.loss, "marks": live_tables.marks,
    "epochs": lambda s, run: live_tables.epochs(s, run, METRICS),
    "bins": lambda s, run: live_tables.bins(s, run, "pre"),
    "grid": lambda s, run: live_tables.histograms(s, run, "act"),
    "one": lambda s, run: live_tables.histograms(s, run, "pre", ("fc1",)),
    "pct": lambda s, run: live_tables.percentiles(s, run, "conv2", "pre"),
    "start": lambda s, run: live_tables.start(s, run, "conv2", "pre"),
    "ridge": lambda s, run: live_tables.ridges(s, run, "fc2", "act", 6.0),
    "gb": lambda s, run: live_tables.gamma_beta(s, run, "conv1"),
    "stats": lambda s, run: live_tables.bn_stats(s, run, "conv1", SOURCES),
    "grad": live_tables.grads, "probe": live_tables.probes,
}


@pytest.fixture(scope="module")
def snapshots():
    """Snapshots of two runs (the second after a Reset), taken at uneven steps while paused — a
    loss tail not yet handed over, a learning-rate change, histories thinned (at most 6 captures)."""
    data = fashion_mnist.synthetic(1024, 256, seed=3)
    config = TrainConfig(train_limit=1024, test_limit=256, batch_size=64, epochs=3, hist_every=2, max_captures=6,
                         probe_every=1, test_time_batches=(1, 64))
    snaps = []
    for run in range(2):
        job = Job(config, data)
        for i, n in enumerate([1, 1, 2, 3, 5, 8, 9, 13, 6]):
            job.step(n)
            assert job.wait_parked(60)
            snaps.append(job.snapshot())
            if run == 0 and i == 4:
                job.set_lr("lenet_bn", 0.3)
        job.resume()
        assert job.join(120)
        snaps.append(job.snapshot())
    deadline = time.time() + 30
    while time.time() < deadline and any(t.name.startswith("bnviz-train") for t in threading.enumerate()):
        time.sleep(0.05)
    return snaps


def test_the_runs_thin_their_history_and_change_a_rate(snapshots):
    assert {s.history for s in snapshots[:10]} != {s.history for s in snapshots[10:]}
    assert max(s.thinned for s in snapshots) >= 2 and snapshots[9].lr_changes
    assert snapshots[9].state == "finished" and len(snapshots[9].loss) == snapshots[9].total_steps


@pytest.mark.parametrize("name", list(TABLES))
def test_every_live_table_of_a_real_run_is_received_whole_for_any_gap(snapshots, name):
    make = TABLES[name]
    tables = [make(s, f"history{s.history}") for s in snapshots]
    kinds = set()
    for a, b in itertools.combinations(range(len(tables)), 2):
        held_frame, held = receive(None, None, tables[a])
        sent = delta(tables[b], held)
        got, _ = apply(held_frame, held, sent)
        pd.testing.assert_frame_equal(got, tables[b].frame, check_categorical=False)
        kinds.add("whole" if sent.whole else "rows" if len(sent.rows) else "nothing")
    assert "whole" in kinds  # the Reset at least
    if name not in ("bins", "start", "marks"):  # tables that grow send only their new rows
        assert "rows" in kinds


def test_every_table_of_a_run_has_a_source_of_its_own(snapshots):
    """A source names one table's rows: the page converts each delta once, keyed by its source,
    for every viewer (two tables under one source would receive each other's rows)."""
    for snap in (snapshots[3], snapshots[9]):
        sources = [make(snap, f"history{snap.history}").source for make in TABLES.values()]
        assert len(set(sources)) == len(sources), sources


def test_a_live_table_holds_what_the_page_s_frames_show(snapshots):
    """The live tables against bnviz.training.bn_frames, which the exports and older views use."""
    snap = snapshots[9]
    grid = live_tables.histograms(snap, "r", "act").frame
    n_bins = snap.config.bins
    last = grid[grid.capture == grid.capture.max()]
    frame = bn_frames.layers_frame(snap, "act")  # the newest capture, one row per bin
    assert len(last) == 2 * len(HIDDEN_LAYERS) and len(frame) == len(last) * n_bins
    for row in last.itertuples():
        mine = frame[(frame.model == row.model) & (frame.layer == row.layer)].share.to_numpy()
        assert row.shares.dtype == np.float32 and np.allclose(row.shares, mine, rtol=1e-6, atol=1e-9)
    bins = live_tables.bins(snap, "r", "act").frame
    assert np.allclose(bins.lo, frame.lo[:n_bins]) and bins.bin.tolist() == list(range(n_bins))
    loss = live_tables.loss(snap, "r").frame
    reference = bn_frames.loss_frame(snap, limit=10**9)  # every step
    merged = loss.astype({"model": str}).merge(reference, on=["step", "model"], suffixes=("", "_ref"))
    assert len(merged) == len(loss) and np.allclose(merged.loss, merged.loss_ref, rtol=1e-6)


def test_the_epochs_and_figure_1_tables_hold_the_frames_rows_labelled_as_they_are(snapshots):
    """The loss panel's epochs table (built from arrays, its labels from codes) row for row against
    bn_frames.epoch_frame (one row at a time from the snapshot), and Figure 1's against
    bn_frames.percentile_frame; both in their order, labels compared as text."""
    snap = snapshots[9]
    table = live_tables.epochs(snap, "r", METRICS)
    reference = bn_frames.epoch_frame(snap)
    reference = reference[reference.metric.isin(list(METRICS))].sort_values("epoch", kind="stable")
    reference = reference.assign(metric=reference.metric.map(METRICS)).reset_index(drop=True)
    assert len(reference) == 2 * len(METRICS) * len(snap.epochs["epoch"]) > 0
    pd.testing.assert_frame_equal(table.frame.astype({"model": str, "metric": str}), reference, check_dtype=False)
    assert list(table.frame.metric.cat.categories) == list(METRICS.values())
    # The versions are whole epoch numbers, integers on both sides (no arithmetic): compared exactly.
    assert table.versions.dtype.kind == "i"
    np.testing.assert_array_equal(table.versions, reference.epoch.to_numpy(np.int64))
    live_tables._GROWN.clear()
    pct = live_tables.percentiles(snap, "r", "conv2", "pre").frame
    figure = bn_frames.percentile_frame(snap, "conv2", "pre")
    pd.testing.assert_frame_equal(pct.drop(columns="capture").astype({"model": str}), figure, check_dtype=False)
    assert pct.model.isna().sum() == 0 and list(pct.model.cat.categories) == live_tables.MODEL_LABELS


def test_labels_from_codes_are_the_labels_from_text_for_any_number_of_labels():
    """live_tables' labels made from codes equal pandas' made from the text, missing ones (−1)
    included, for a few labels and for more than a byte's worth (an int8 code wraps past 127)."""
    for size in (2, 5, 127, 128, 300):
        order = [f"label {i}" for i in range(size)]
        codes = np.array([0, size - 1, -1, size // 2, min(255, size - 1)])
        text = [order[c] if c >= 0 else None for c in codes]
        coded = live_tables._coded(codes, order)
        pd.testing.assert_extension_array_equal(coded, pd.Categorical(text, categories=order))


def test_a_capture_s_rows_are_found_by_their_key(snapshots):
    """The histograms and γ/β charts look the capture the scrubber is on up by key (capture ·
    cells + the row's place among its capture's): each row's key is its own, names its capture,
    and a capture's keys are every place once."""
    snap = snapshots[9]
    for table, cells in ((live_tables.histograms(snap, "r", "act"), 2 * len(HIDDEN_LAYERS)),
                         (live_tables.histograms(snap, "r", "pre", ("fc1",)), 2),
                         (live_tables.gamma_beta(snap, "r", "fc1"), 2 * WIDTHS["fc1"])):
        frame = table.frame
        assert len(frame) == cells * frame.capture.nunique() > 0
        assert frame.key.is_unique and (frame.key // cells == frame.capture).all()
        for _, rows in frame.groupby("capture"):
            assert sorted(rows.key % cells) == list(range(cells))
    gb = live_tables.gamma_beta(snap, "r", "fc1").frame
    assert ((gb.key % (2 * WIDTHS["fc1"]) < WIDTHS["fc1"]) == (gb.parameter == "γ")).all()


CAPTURE_TABLES = ("pct", "ridge", "gb", "stats", "grad", "probe")


@pytest.mark.parametrize("name", CAPTURE_TABLES)
def test_a_table_of_captures_grown_by_its_new_captures_equals_one_built_from_every_capture(snapshots, name):
    """Tables of captures (and of probes) keep the rows built before and add the new captures'
    (live_tables._GROWN): along two runs, thinned histories and a Reset, they equal the tables
    built from scratch."""
    make = TABLES[name]
    live_tables._GROWN.clear()
    grown = [make(s, f"history{s.history}") for s in snapshots]  # in order: each from the one before
    assert any(len(t.frame) for t in grown)
    for snap, table in zip(snapshots, grown):
        live_tables._GROWN.clear()
        anew = make(snap, f"history{snap.history}")
        assert table.source == anew.source
        # Two ways of building the same rows: within a tolerance a row missing, doubled or out of
        # place exceeds by far (a capture's values differ from its neighbours' at the first digit).
        pd.testing.assert_frame_equal(table.frame, anew.frame, check_exact=False, rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(table.versions, anew.versions)  # integers: capture positions
        if name == "probe":  # and against the frame the exports use, built from every probe at once
            whole = bn_frames.probe_frame(snap).reset_index(drop=True)
            pd.testing.assert_frame_equal(table.frame.astype({"model": str}), whole, check_exact=False, rtol=1e-9)
