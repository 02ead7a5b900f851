"""``python -m bench`` runs every benchmark; ``python -m bench NAME`` one of them (see BENCHES)."""

import sys

from bench import bn, caviar, engine, ewma, feed, gpu, instant, live, optimizers, pair, sweep, tuning, watchers
from bench.common import print_table

BENCHES = {
    "ewma": ewma.run,
    "ewma-core": lambda: print_table("EWMA: ours vs pandas (best of 7)", ewma.core()),
    "instant": instant.run,
    "optimizers": optimizers.run,
    "bn": bn.run,
    "bn-overhead": lambda: print_table("BN engine: histogram overhead (3 rounds, interleaved)", bn.overhead()),
    "bn-gil": lambda: print_table("A class watching one run on a real server: training while watchers refresh",
                                  bn.gil()),
    "live": live.run,
    "feed": feed.run,
    "watchers": lambda: print_table("A settled watcher's browser per refresh, panel by panel (one Chromium each, "
                                    f"{watchers.WINDOW_S:.0f} s after {watchers.SETTLE_S:.0f} s)", watchers.run_rows()),
    "live-alone": lambda: print_table("One tab alone, refreshed every second: the fragment run by Streamlit vs fed",
                                      live.alone()),
    "bn-browser": lambda: print_table("BN page in Chromium: training while the page polls", bn.browser()),
    "load": lambda: print_table("A class on one server (a run and 30 watchers, 5 Starts against a cap of 2)",
                                bn.load()),
    "bn-testtime": lambda: print_table("BN: population vs running statistics, accuracies, smoothness (2 epochs)",
                                       bn.testtime()),
    "reproduce": lambda: print_table("d2l recipe, 10 epochs, real Fashion-MNIST", bn.reproduce()),
    "optimizers-core": lambda: print_table("Optimizers: server compute and course form vs torch.optim",
                                           optimizers.core()),
    "tuning": tuning.run,
    "sweep": sweep.run,
    "class": caviar.run,
    "engine": engine.run,
    "pair": pair.run,
    "gpu": gpu.run,
}


def main(argv: list[str]) -> int:
    names = argv or ["ewma", "optimizers", "instant", "bn"]
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHES)}", file=sys.stderr)
        return 2
    for name in names:
        BENCHES[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
