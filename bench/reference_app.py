"""The bare reference for ``python -m bench instant``: the same chart, the same data and the same
parameter as a page of the app, but the parameter bound to Vega's own range input and nothing
else on the page. Its redraw time is the floor the app's live controls are compared with.

    streamlit run bench/reference_app.py -- ewma|opt
"""

import copy
import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bnviz.data import series
from bnviz.optimization import path_frames
from bnviz.optimization.surfaces import SURFACES
from bnviz.smoothing import ewma, ewma_frames
from bnviz.ui.optimization import charts as optimization_charts
from bnviz.ui.smoothing import charts as smoothing_charts
from bnviz.ui.strings import STRINGS
from bnviz.ui.vega import vega_spec

# The parameter the bench moves, its native range, and the values the other parameters keep.
CASES = {"ewma": ("b1", len(ewma_frames.BETAS) - 1, {"b2": 9, "b3": 0, "nc": 2, "vz": 1, "vc": 1, "vf": 1}),
         "opt": ("step", 150, {"lr": path_frames.LRS.index(0.4), "b_momentum": path_frames.BETAS.index(0.9)})}


def native(spec: dict, moving: str, top: int, fixed: dict) -> dict:
    """The spec with ``moving`` bound to Vega's own slider and every other live parameter fixed."""
    spec = copy.deepcopy(spec)

    def visit(node):
        if isinstance(node, dict):
            for param in node.get("params", []):
                if isinstance(param.get("bind"), dict) and "element" in param["bind"]:
                    if param["name"] == moving:
                        param["bind"] = {"input": "range", "min": 0, "max": top, "step": 1}
                        param["value"] = top // 2
                    elif "select" not in param and param["name"] in fixed:
                        param.pop("bind")
                        param["value"] = fixed[param["name"]]
                    else:
                        param.pop("bind")
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(spec)
    return spec


def ewma_chart():
    s = series.temperatures("temp_max")
    raw, drawn = ewma_frames.raw_table(s)
    ticks, unit = ewma_frames.date_ticks(s)
    tick_format = STRINGS["en"][f"date_format_{unit}"] if unit else ""
    return vega_spec(smoothing_charts.smoothing_chart, {"raw": raw, "curves": ewma_frames.curve_table(s)},
                     labels=[ewma_frames.beta_label(b) for b in ewma_frames.BETAS],
                     variants={v: v for v in ewma.VARIANTS}, ticks=ticks, tick_format=tick_format, few=drawn <= 200,
                     x_title="date", y_title="value", curve_title="β", variant_title="variant", raw_label="raw")


def opt_chart():
    s = SURFACES["valley"]
    settings = {"gd": {"lr": 0.4}, "momentum": {"lr": 0.4, "beta": 0.9}}
    fstar = path_frames.lowest_value(s)
    paths, _, _ = path_frames.trajectory_table(s, s.start, 150, settings, fstar)
    paths = paths.assign(label=paths.optimizer)
    cells = path_frames.grid_frame(s, fstar)
    data = {"cells": cells, "paths": paths, "minima": pd_minima(s)}
    return vega_spec(optimization_charts.contour_chart, data, names=list(settings), same=True,
                     labels={"gd": "gd", "momentum": "momentum"}, domain=s.domain, x_title="x", y_title="y",
                     colours=path_frames.colour_range(cells, s.domain), loss_title="log f", opt_title="optimizer")


def pd_minima(surface):
    import pandas as pd

    return pd.DataFrame(surface.minima, columns=["x", "y"])


if __name__ == "__main__":  # streamlit run runs it as __main__; the bench imports native()
    case = sys.argv[1] if len(sys.argv) > 1 else "ewma"
    moving, top, fixed = CASES[case]
    spec = ewma_chart() if case == "ewma" else opt_chart()
    st.title("reference")
    st.vega_lite_chart(native(spec, moving, top, fixed), width="stretch")
