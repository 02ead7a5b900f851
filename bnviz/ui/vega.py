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


# What stands for a text option while the spec is built (see vega_spec's ``texts``): characters of
# Unicode's private use area, which no title of ours holds (a text that does is built as it is).
_OPEN, _CLOSE = "\ue000", "\ue001"


@functools.lru_cache(maxsize=256)
def _spec_json(builder, options: str) -> str:
    import altair as alt

    with alt.data_transformers.disable_max_rows():
        spec = builder(**json.loads(options)).to_dict()
    spec.pop("datasets", None)
    return json.dumps(spec)


def vega_spec(builder, data: dict, params: dict | None = None, *, texts: tuple[str, ...] = (), **options) -> dict:
    """The Vega-Lite spec ``builder(**options)`` makes (its layers read named datasets), with
    ``data`` (name → DataFrame) as those datasets and ``params`` (name → value) as the values of
    its top-level parameters. ``options`` must be JSON-like (they are the cache key); what changes
    from one refresh to the next belongs in ``data`` or ``params``, so the spec is built once.

    ``texts`` names options that the chart only shows (titles, labels, a date format), never tests
    or splits: the spec is built once for every value they take (a file's column name as an axis
    title: 0.4–0.7 s of the server's CPU a build for the EWMA chart, ``python -m bench ewma``) and
    each is written into it, as a string of the spec or, where the builder put it in an expression
    as a JSON string (``json.dumps``), as that."""
    filled = {k: options[k] for k in texts if isinstance(options.get(k), str) and options[k]
              and _OPEN not in options[k] and _CLOSE not in options[k]}
    shape = {**options, **{k: _OPEN + k + _CLOSE for k in filled}}
    spec = json.loads(_spec_json(builder, json.dumps(shape, sort_keys=True, ensure_ascii=False)))
    if filled:
        spec = _fill(spec, filled)
    spec["datasets"] = dict(data)
    if params:
        declared = {p["name"]: p for p in spec.get("params", [])}
        for name, value in params.items():
            declared[name]["value"] = value  # a KeyError names a parameter the chart does not declare
    return spec


def _fill(node, texts: dict):
    """``node`` with every stand-in for a text replaced by the text (see :func:`vega_spec`)."""
    if isinstance(node, dict):
        return {key: _fill(value, texts) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(value, texts) for value in node]
    if isinstance(node, str) and _OPEN in node:
        for name, value in texts.items():
            mark = _OPEN + name + _CLOSE
            node = node.replace(json.dumps(mark, ensure_ascii=False), json.dumps(value, ensure_ascii=False))
            node = node.replace(mark, value)
    return node


def text_as_categories(frame):
    """``frame`` with its text columns as categories: Streamlit then sends each as an Arrow
    dictionary, every distinct text once instead of on every row (a chart's table repeats a few
    names: the optimizer page's paths went from 398 to 136 KB with its columns cut)."""
    text = frame.select_dtypes(include=["object", "string"]).columns
    return frame.astype({name: "category" for name in text}) if len(text) else frame
