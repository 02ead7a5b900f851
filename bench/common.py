"""Timing helpers and the table printer shared by every benchmark."""

from __future__ import annotations

import statistics
import time


def finished(device) -> None:
    """Wait for the GPU's queued work before a clock is read (nothing to wait for elsewhere)."""
    if str(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def timings(fn, repeat: int = 7, warmup: int = 1) -> list[float]:
    """Seconds of each of ``repeat`` runs of ``fn``, after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def best_of(fn, repeat: int = 7, warmup: int = 1) -> float:
    """Fastest of ``repeat`` runs, in seconds (the least disturbed by the rest of the machine)."""
    return min(timings(fn, repeat, warmup))


def median(values) -> float:
    return statistics.median(values)


def print_table(title: str, rows: list[dict]) -> None:
    """rows: dicts with the same keys; printed as an aligned text table."""
    print(f"\n## {title}")
    if not rows:
        print("(no rows)")
        return
    cols = list(rows[0])
    cells = [[str(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    print("| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(row, widths)) + " |")
