r"""What the class board shows, as tables (no Streamlit here): every student's model against its
learning rate, the class's loss curves, the leaderboard, how well the class searched, and the band
of rates that worked with BatchNorm and without.

A rate *worked* when its model did not diverge and its latest test accuracy came within
:data:`WORKED_WITHIN` of the class's best. The band of a model kind is the range of rates that
worked, its width in decades

.. math:: w = \log_{10} \frac{\alpha_{\max}}{\alpha_{\min}}

and BatchNorm's claim is that :math:`w_{\mathrm{BN}} / w_{\mathrm{plain}} > 1`.

How well the class searched: its rates against as many drawn uniformly in :math:`\log\alpha` over
the same range (the notes' advice), each set's largest gap in decades, edges included.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bnviz.batchnorm.models import LABELS
from bnviz.server.feeds import Table

WORKED_WITHIN = 0.10
LATEX_BAND = r"w = \log_{10}\frac{\alpha_{\max}}{\alpha_{\min}}"
LATEX_UNIFORM = r"\log_{10}\alpha \sim \mathcal{U}(\log_{10}\alpha_{\min},\ \log_{10}\alpha_{\max})"


def model_label(batch_norm: bool) -> str:
    return LABELS["lenet_bn" if batch_norm else "lenet"]


def points(entries, snap=None) -> pd.DataFrame:
    """One row per entry: nickname, its settings, latest test accuracy (None before the first
    measurement or once diverged), whether and where it diverged."""
    rows = []
    for k, e in enumerate(entries):
        acc, diverged_at = None, None
        if snap is not None and k < snap.accuracy.shape[1]:
            if len(snap.accuracy):
                value = float(snap.accuracy[-1, k])
                acc = None if math.isnan(value) else value
            diverged_at = snap.diverged_at[k]
        m = e.member
        rows.append({"nickname": e.nickname, "lr": m.lr, "model": model_label(m.batch_norm),
                     "optimizer": m.optimizer, "momentum": m.momentum, "seed": m.seed, "accuracy": acc,
                     "diverged": diverged_at is not None, "diverged_at": diverged_at})
    return pd.DataFrame(rows, columns=["nickname", "lr", "model", "optimizer", "momentum", "seed", "accuracy",
                                       "diverged", "diverged_at"])


def every(snap, keep: int = 200) -> int:
    """Every how many steps a loss curve keeps a point: fixed for the run (at most ``keep`` points),
    so that the rows of a curve are only ever appended."""
    return max(1, snap.total // keep)


def losses(entries, snap, run: str, keep: int = 200, only: int | None = None) -> Table:
    """The loss per step of every entry (of entry ``only``) of the run named ``run``, every
    :func:`every` steps, finite values only, ordered by step: each step's losses are its rows'
    version (a live chart receives only the steps it has not seen)."""
    columns = ["nickname", "model", "step", "loss"]
    if snap is None or not len(snap.losses):
        return Table(f"{run}/none", pd.DataFrame(columns=columns), np.zeros(0, dtype=np.int64))
    stride = every(snap, keep)
    steps = np.arange(stride, len(snap.losses) + 1, stride)
    picked = [(k, e) for k, e in enumerate(entries) if only is None or k == only]
    values = snap.losses[steps - 1][:, [k for k, _ in picked]]  # (steps, picked)
    frame = pd.DataFrame({"nickname": np.tile([e.nickname for _, e in picked], len(steps)),
                          "model": np.tile([model_label(e.member.batch_norm) for _, e in picked], len(steps)),
                          "step": np.repeat(steps, len(picked)), "loss": values.reshape(-1)})
    frame = frame[np.isfinite(frame["loss"])].reset_index(drop=True)
    return Table(f"{run}/loss/{stride}/{only}", frame[columns], frame["step"].to_numpy(np.int64))


def leaderboard(table: pd.DataFrame) -> pd.DataFrame:
    """The entries by latest accuracy, best first; diverged and unmeasured ones last."""
    board = table.assign(_order=table["accuracy"].fillna(-1.0)).sort_values(["_order", "nickname"],
                                                                             ascending=[False, True])
    board = board.drop(columns="_order").reset_index(drop=True)
    board.insert(0, "rank", np.arange(1, len(board) + 1))
    return board[["rank", "nickname", "accuracy", "lr", "model", "optimizer", "diverged"]]


def standing(table: pd.DataFrame, nickname: str) -> tuple[int, int] | None:
    """(rank, of how many) of ``nickname`` on the leaderboard, or None."""
    board = leaderboard(table)
    where = board.index[board["nickname"] == nickname]
    return (int(board.loc[where[0], "rank"]), len(board)) if len(where) else None


def bands(table: pd.DataFrame) -> dict:
    """Per model kind: the rates that worked (lo, hi, their width in decades, how many), and the
    ratio of BatchNorm's width to the plain model's (None when either is not there)."""
    measured = table.dropna(subset=["accuracy"])
    out = {}
    best = measured["accuracy"].max() if len(measured) else None
    for batch_norm in (False, True):
        label = model_label(batch_norm)
        mine = measured[(measured["model"] == label) & ~measured["diverged"]]
        worked = mine[mine["accuracy"] >= best - WORKED_WITHIN] if best is not None else mine.iloc[:0]
        if len(worked):
            lo, hi = float(worked["lr"].min()), float(worked["lr"].max())
            out[label] = {"lo": lo, "hi": hi, "decades": math.log10(hi / lo), "n": len(worked),
                          "tried": int((table["model"] == label).sum())}
        else:
            out[label] = {"lo": None, "hi": None, "decades": None, "n": 0,
                          "tried": int((table["model"] == label).sum())}
    plain, bn = out[model_label(False)]["decades"], out[model_label(True)]["decades"]
    out["ratio"] = bn / plain if plain and bn is not None else None
    return out


def uniform_sample(n: int, lo: float, hi: float, seed: int = 0) -> np.ndarray:
    """``n`` rates drawn uniformly in log10 over [lo, hi] (seeded: the same board each refresh)."""
    return 10 ** np.random.default_rng(seed).uniform(math.log10(lo), math.log10(hi), n)


def largest_gap(rates, lo: float, hi: float) -> float:
    """The largest stretch of [lo, hi], in decades, that no rate of ``rates`` falls in."""
    marks = np.sort(np.log10(np.clip(np.asarray(rates, dtype=float), lo, hi)))
    edges = np.concatenate([[math.log10(lo)], marks, [math.log10(hi)]])
    return float(np.max(np.diff(edges)))


def search(table: pd.DataFrame, lo: float, hi: float, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """The class's rates and as many drawn uniformly in log (who, lr), and each set's largest gap."""
    rates = table["lr"].to_numpy(dtype=float)
    drawn = uniform_sample(len(rates), lo, hi, seed)
    frame = pd.concat([pd.DataFrame({"who": "class", "lr": rates}), pd.DataFrame({"who": "uniform", "lr": drawn})],
                      ignore_index=True)
    gaps = {"class": largest_gap(rates, lo, hi) if len(rates) else None,
            "uniform": largest_gap(drawn, lo, hi) if len(rates) else None}
    return frame, gaps
