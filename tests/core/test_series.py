"""Input series: the real temperatures, synthetic series and parsing of the user's data."""

import numpy as np
import pandas as pd
import pytest

from bnviz.data import series, tables
from bnviz.optimization import descent
from bnviz.smoothing import ewma, ewma_frames


def test_seattle_temperatures_are_real_and_offline():
    s = series.temperatures("temp_max")
    assert len(s.values) == 1461 and np.isfinite(s.values).all()
    assert -10 < s.values.min() < 5 and 30 < s.values.max() < 40  # °C
    assert str(s.index[0])[:10] == "2012-01-01" and str(s.index[-1])[:10] == "2015-12-31"
    lo = series.temperatures("temp_min")
    assert (lo.values <= s.values).all()


@pytest.mark.parametrize("kind", series.SYNTHETIC)
def test_synthetic_is_seeded(kind):
    a, b, c = series.synthetic(kind, seed=3), series.synthetic(kind, seed=3), series.synthetic(kind, seed=4)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.array_equal(a.values, c.values)


def test_paste_numbers():
    s = series.parse_pasted("1, 2;3\n4\t5 nan inf -1e3")
    assert s.values[:5].tolist() == [1, 2, 3, 4, 5] and s.values[-1] == -1000
    assert s.notes == {"non_finite": 2}


@pytest.mark.parametrize("text, key", [
    ("", "empty"), ("   \n ", "empty"), ("1 2 three", "bad_token"), ("42", "too_short"),
    ("nan nan 1", "too_short"), ("<script>alert(1)</script>", "bad_token"),
])
def test_paste_errors(text, key):
    with pytest.raises(series.SeriesError) as err:
        series.parse_pasted(text)
    assert err.value.key == key


def test_million_rows_parse_and_downsample():
    rng = np.random.default_rng(0)
    x = rng.normal(size=1_000_000)
    x[123_456] = 50.0  # a spike the drawing must keep
    s = tables.from_table(tables.read_table(pd.DataFrame({"loss": x}).to_csv(index=False).encode()), "loss")
    assert len(s.values) == 1_000_000
    idx = series.downsample_indices(s.values, 4000)
    assert len(idx) <= 4002 and 123_456 in idx and idx[0] == 0 and idx[-1] == 999_999
    raw, drawn = ewma_frames.raw_table(s)
    assert drawn == len(idx) == len(raw) and raw.t.tolist() == (idx + 1).tolist()
    curves = ewma_frames.curve_table(s, betas=(0.9,), variants=("corrected",))
    assert len(curves) == 450 and curves.t.iloc[0] == 1 and curves.t.iloc[-1] == 1_000_000
    np.testing.assert_allclose(curves["b0_corrected"], ewma.ewma(x, 0.9, bias_correction=True)[curves.t - 1],
                               rtol=1e-6)


def test_too_long():
    with pytest.raises(series.SeriesError) as err:
        series.parse_pasted("1 " * (series.MAX_POINTS + 1))
    assert err.value.key == "too_long"


def test_export_frame_has_every_average():
    s = series.synthetic("sine", n=30)
    df = ewma_frames.export_frame(s, [0.5, 0.9], ["zero", "first"])
    assert len(df) == 30 and {"ewma_beta0.9_zero", "ewma_beta0.5_first"} <= set(df.columns)
    # the CSV round-trips
    back = pd.read_csv(pd.io.common.StringIO(df.to_csv(index=False)))
    np.testing.assert_allclose(back["ewma_beta0.9_zero"], ewma.ewma(s.values, 0.9))


def test_the_curve_table_draws_non_finite_values_as_gaps():
    s = series.parse_pasted("1 2 nan 4 inf 6")
    raw, _ = ewma_frames.raw_table(s)
    curves = ewma_frames.curve_table(s, betas=(0.9,), variants=("corrected",))
    assert raw["value"].isna().sum() == 2 and np.isfinite(raw["value"].dropna()).all()
    assert curves["b0_corrected"].isna().sum() == 2  # gaps, never inf in a chart


def test_optimizer_paths_table_keeps_finite_rows_and_a_positive_gap():
    from bnviz.optimization import path_frames
    from bnviz.optimization.surfaces import SURFACES

    s = SURFACES["valley"]
    settings = {"gd": {"lr": 0.4}, "adam": {"lr": 0.1, "beta1": 0.9}}
    fstar = path_frames.lowest_value(s)
    paths, rates, runs = path_frames.trajectory_table(s, s.start, 50, settings, fstar)
    assert np.isfinite(paths[["x", "y", "loss", "gap"]].to_numpy()).all() and (paths["gap"] > 0).all()
    gd10 = paths[(paths.optimizer == "gd") & (paths.li == path_frames.LRS.index(10.0))]
    diverged = descent.run("gd", s, s.start, 50, lr=10.0).diverged_at
    assert diverged is not None and len(gd10) == diverged  # rows up to the divergence only
    assert (gd10["last"] == diverged - 1).all()
    assert runs["gd"].path.shape == (51, 2) and set(rates.optimizer) == {"gd", "adam"}


def test_the_paths_table_holds_every_slider_value_as_computed_alone():
    """Each (α position, β position) path of the table equals the run with those values."""
    from bnviz.optimization import path_frames
    from bnviz.optimization.surfaces import SURFACES

    s = SURFACES["rosenbrock"]
    settings = {"momentum": {"lr": 0.001, "beta": 0.9}}
    paths, _, _ = path_frames.trajectory_table(s, s.start, 80, settings, path_frames.lowest_value(s))
    for (li, bi), rows in paths.groupby(["li", "bi"]):
        alone = descent.run("momentum", s, s.start, 80, lr=path_frames.LRS[li], beta=path_frames.BETAS[bi])
        np.testing.assert_allclose(rows[["x", "y"]].to_numpy(), alone.path[rows.step.to_numpy()].astype(np.float32))
    assert paths.groupby(["li", "bi"]).ngroups == len(path_frames.LRS) + len(path_frames.BETAS) - 1


@pytest.mark.parametrize("text, values, assumed", [
    ("1,5 2,5 3,5 4,5", [1.5, 2.5, 3.5, 4.5], "decimal_comma"),  # German, French: not 8 numbers
    ("1.234,5\n2.345,75\n-3,25", [1234.5, 2345.75, -3.25], "decimal_comma"),
    ("1,234.5 2,345.25 3,456", [1234.5, 2345.25, 3456.0], "thousands"),  # English, Chinese
    ("1,234 2,345 3,456", [1234.0, 2345.0, 3456.0], "thousands_assumed"),  # either: the common one, said
    ("1,5 2.5 3.5", [1.0, 5.0, 2.5, 3.5], "commas_separate"),  # inconsistent: commas separate, said
    ("1,2,3", [1.0, 2.0, 3.0], "commas_separate"),
    ("1, 2, 3", [1.0, 2.0, 3.0], None),  # commas and spaces between numbers: nothing to assume
    ("0.5;0.25;1e3", [0.5, 0.25, 1000.0], None),
    ("１．５　２．５　－３．５", [1.5, 2.5, -3.5], None),  # full-width (Chinese input methods)
    ("1，2，3；4", [1.0, 2.0, 3.0, 4.0], "commas_separate"),  # full-width comma and semicolon
    ("1、2、3", [1.0, 2.0, 3.0], None),  # the ideographic comma only ever separates
    ("\u22121.5 2", [-1.5, 2.0], None),  # the minus sign
])
def test_pasted_numbers_in_other_locales_are_read_as_meant_and_assumptions_said(text, values, assumed):
    s = series.parse_pasted(text)
    # Exact on purpose: text → float is correctly rounded (IEEE 754) on every CPU, the same
    # operation as the literals here; a misread separator is off by far more than a bit.
    np.testing.assert_array_equal(s.values, values)
    assert s.notes.get("number_format") == assumed


NAN = float("nan")


@pytest.mark.parametrize("text, values, read_as, name", [
    # Python, NumPy, torch
    ("[1.0, 2.5, 3, -4e-3]", [1.0, 2.5, 3.0, -0.004], "json", "pasted"),
    ("array([1. , 2.5, 3. , nan])", [1.0, 2.5, 3.0, NAN], "code", "pasted"),
    ("array([ 1.5,  2. ,\n        3.25,  4. ], dtype=float32)", [1.5, 2.0, 3.25, 4.0], "code", "pasted"),
    ("[1.  2.5 3.  4. ]", [1.0, 2.5, 3.0, 4.0], "code", "pasted"),  # print() of a NumPy array
    ("[np.float64(1.5), np.float64(2.0), np.float64(3.0)]", [1.5, 2.0, 3.0], "code", "pasted"),  # NumPy 2's list
    ("losses = [0.9, 0.7, 0.6]", [0.9, 0.7, 0.6], "code", "pasted"),
    ("tensor([0.5000, 0.2500, 0.1250], requires_grad=True)", [0.5, 0.25, 0.125], "code", "pasted"),
    # pandas: the index column is not data
    ("0    1.0\n1    2.5\n2    3.0\ndtype: float64", [1.0, 2.5, 3.0], "pandas", "pasted"),
    ("0    0.9\n1    0.7\n2    0.6\nName: loss, dtype: float64", [0.9, 0.7, 0.6], "pandas", "loss"),
    ("2012-01-01    12.8\n2012-01-02    10.6\n2012-01-03    NaN\nFreq: D, Name: temp, dtype: float64",
     [12.8, 10.6, NAN], "pandas", "temp"),
    # JSON
    ("[1, 2, null, 4]", [1.0, 2.0, NAN, 4.0], "json", "pasted"),
    ('{"loss": [0.9, 0.8, 0.7]}', [0.9, 0.8, 0.7], "json", "pasted"),
    ("[[1, 2], [3, 4]]", [1.0, 2.0, 3.0, 4.0], "json", "pasted"),
    ("[1, 2, NaN, Infinity, -Infinity]", [1.0, 2.0, NAN, float("inf"), float("-inf")], "json", "pasted"),
    # R
    ("c(1, 2.5, NA, 4)", [1.0, 2.5, NAN, 4.0], "code", "pasted"),
    ("x <- c(1, 2, 3)", [1.0, 2.0, 3.0], "code", "pasted"),
    (" [1]  1.0  2.5  3.0  4.0\n [5]  5.0  6.0", [1.0, 2.5, 3.0, 4.0, 5.0, 6.0], "r", "pasted"),
    # MATLAB / Octave
    ("x = [1 2 3; 4 5 6];", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "code", "pasted"),
    ("x =\n\n   1   2   3\n", [1.0, 2.0, 3.0], "code", "pasted"),
    ("[1, 2, Inf, -Inf, NaN]", [1.0, 2.0, float("inf"), float("-inf"), NAN], "code", "pasted"),
    # a spreadsheet's column, copied with its header and an error cell
    ("loss\n1.2\n1.1\n#N/A\n0.9", [1.2, 1.1, NAN, 0.9], "column", "loss"),
    ("train loss\n1,5\n1,25\n1,0", [1.5, 1.25, 1.0], "column", "train loss"),
])
def test_numbers_as_code_and_tools_write_them_are_read_and_said(text, values, read_as, name):
    s = series.parse_pasted(text)
    np.testing.assert_array_equal(s.values, values)  # exact: text → float, as the literals (see above)
    assert s.notes.get("read_as") == read_as and s.name == name


@pytest.mark.parametrize("text", ["hello world", "array([a, b])", "c(1, two, 3)", "[1, 'x', 3]", "Name: x"])
def test_code_that_holds_something_else_than_numbers_is_refused(text):
    with pytest.raises(series.SeriesError):
        series.parse_pasted(text)
