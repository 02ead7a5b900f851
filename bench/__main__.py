"""``python -m bench`` runs every benchmark; ``python -m bench NAME`` one of them (see BENCHES)."""

import sys

from bench import ewma, optimizers
from bench.common import print_table

BENCHES = {
    "ewma": ewma.run,
    "ewma-core": lambda: print_table("EWMA: ours vs pandas (best of 7)", ewma.core()),
    "ewma-browser": lambda: print_table("EWMA page in Chromium", ewma.browser()),
    "optimizers": optimizers.run,
    "optimizers-core": lambda: print_table("Optimizers: server compute and course form vs torch.optim",
                                           optimizers.core()),
}


def main(argv: list[str]) -> int:
    names = argv or ["ewma", "optimizers"]
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHES)}", file=sys.stderr)
        return 2
    for name in names:
        BENCHES[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
