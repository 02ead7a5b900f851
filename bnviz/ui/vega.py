"""What every chart shares: the canvas renderer, the palette, and specs built once.

Building an Altair chart and turning it into a Vega-Lite spec costs the server far more than the
data it carries (validation, copying, per-layer data handling). :func:`vega_spec` builds each
chart once per set of options — titles, labels, sizes — with its data as named datasets, then
hands out that spec with this run's frames. The spec stays the same from one run to the next, so
the browser only swaps the data.
"""

from __future__ import annotations

import functools
import json

# vega-embed reads this from the spec: canvas draws thousands of points far faster than SVG.
CANVAS = {"embedOptions": {"renderer": "canvas"}}
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
DASHES = [[1, 0], [6, 3], [2, 2]]
# A diverged run's mark: an ✕ (Vega's own "cross" is a plus sign, ✚), drawn as a path.
DIVERGED_SHAPE = "M-1,-1L1,1M-1,1L1,-1"


@functools.lru_cache(maxsize=256)
def _spec_json(builder, options: str) -> str:
    import altair as alt

    with alt.data_transformers.disable_max_rows():
        spec = builder(**json.loads(options)).to_dict()
    spec.pop("datasets", None)
    return json.dumps(spec)


def vega_spec(builder, data: dict, params: dict | None = None, **options) -> dict:
    """The Vega-Lite spec ``builder(**options)`` makes (its layers read named datasets), with
    ``data`` (name → DataFrame) as those datasets and ``params`` (name → value) as the values of
    its top-level parameters. ``options`` must be JSON-like (they are the cache key); what changes
    from one refresh to the next belongs in ``data`` or ``params``, so the spec is built once."""
    spec = json.loads(_spec_json(builder, json.dumps(options, sort_keys=True, ensure_ascii=False)))
    spec["datasets"] = dict(data)
    if params:
        declared = {p["name"]: p for p in spec.get("params", [])}
        for name, value in params.items():
            declared[name]["value"] = value  # a KeyError names a parameter the chart does not declare
    return spec
