"""Series for the EWMA page: real temperatures, seeded synthetic series and the user's own data
(pasted numbers here, files in :mod:`bnviz.data.tables`).

Parsing errors are raised as :class:`SeriesError` carrying a message *key* and parameters; the
UI layer turns them into text in the user's language.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from bnviz.errors import KeyedError

MAX_POINTS = 2_000_000
MIN_POINTS = 2
SYNTHETIC = ("sine", "walk", "step")


class SeriesError(KeyedError, ValueError):
    """A user-facing problem with input data: ``key`` names the message, ``params`` fill it."""


@dataclass(frozen=True)
class Series:
    values: np.ndarray  # float64, may hold NaN / inf
    name: str
    index: np.ndarray | None = None  # optional x values (dates); None means 1..n
    notes: dict = field(default_factory=dict)  # e.g. {"non_finite": 3, "non_numeric": 1}


def finish(values: np.ndarray, name: str, index=None, **notes) -> Series:
    values = np.asarray(values, dtype=np.float64)
    if values.size > MAX_POINTS:
        raise SeriesError("too_long", n=int(values.size), max=MAX_POINTS)
    finite = int(np.isfinite(values).sum())
    if finite < MIN_POINTS:
        raise SeriesError("too_short", n=finite, min=MIN_POINTS)
    nonfinite = int(values.size - finite)
    if nonfinite:
        notes["non_finite"] = nonfinite
    return Series(values, name, index, {k: v for k, v in notes.items() if v})


def temperatures(column: str = "temp_max") -> Series:
    """Seattle daily temperatures (°C) 2012–2015, shipped offline inside ``vega_datasets``."""
    from vega_datasets import local_data

    if column not in ("temp_max", "temp_min"):
        raise ValueError(f"unknown column {column!r}")
    df = local_data.seattle_weather()
    return finish(df[column].to_numpy(float), column, df["date"].to_numpy())


def synthetic(kind: str, n: int = 365, seed: int = 0) -> Series:
    """Seeded toy series: 'sine' (noisy seasonal), 'walk' (random walk), 'step' (jump at n/2)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64)
    if kind == "sine":
        v = 12 + 8 * np.sin(2 * np.pi * (t - 100) / 365) + rng.normal(0, 3, n)
    elif kind == "walk":
        v = np.cumsum(rng.normal(0, 1, n))
    elif kind == "step":
        v = np.where(t < n // 2, 0.0, 10.0) + rng.normal(0, 1, n)
    else:
        raise ValueError(f"unknown synthetic series {kind!r}")
    return finish(v, kind)


def step_signal(n: int = 200, at: int = 50) -> np.ndarray:
    """A clean unit step (0 before ``at``, 1 from ``at`` on) used to measure the EWMA's lag."""
    return (np.arange(n) >= at).astype(np.float64)


_TOKEN_SPLIT = re.compile(r"[\s,;]+")
_GAPS = re.compile(r"[\s;]+")
# Number formats a token with a comma can be in, where spaces, tabs, new lines or semicolons
# separate the numbers: "1,5" (decimal comma, as in German or French), "1.234,5" (with points
# between thousands), "1,234.5" (commas between thousands, as in English and Chinese).
_DECIMAL_COMMA = re.compile(r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+),\d+")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def _to_float(token: str) -> float | None:
    try:
        return float(token)
    except ValueError:
        return None


def plain(text: str) -> str:
    """Full-width digits and punctuation (Chinese input methods) and the minus sign as the ASCII
    a number is written in; the ideographic comma 、 only ever separates numbers."""
    return unicodedata.normalize("NFKC", text).replace("、", " ").replace("\u2212", "-")


def comma_format(tokens: list[str], decimal_first: bool = False) -> str:
    """The format of the commas inside ``tokens`` (numbers already apart): "decimal_comma",
    "thousands", "thousands_assumed" (every comma is followed by exactly three digits, so "1,234"
    could be either; the more common reading is taken, and said), "decimal_comma_assumed" (the
    same, where ``decimal_first``: a semicolon-separated file, the convention of decimal-comma
    locales) or "" (no comma to read)."""
    commas = [tok for tok in tokens if "," in tok]
    if not commas:
        return ""
    decimal = all(_DECIMAL_COMMA.fullmatch(tok) for tok in commas) and \
        not any("." in tok for tok in tokens if "," not in tok)
    thousands = all(_THOUSANDS.fullmatch(tok) for tok in commas)
    if decimal and thousands:
        return "decimal_comma_assumed" if decimal_first else "thousands_assumed"
    return "decimal_comma" if decimal else "thousands" if thousands else ""


def in_format(tokens: list[str], number_format: str) -> list[str]:
    """``tokens`` rewritten as Python reads numbers, given their :func:`comma_format`."""
    if number_format.startswith("decimal_comma"):
        return [tok.replace(".", "").replace(",", ".") for tok in tokens]
    if number_format.startswith("thousands"):
        return [tok.replace(",", "") for tok in tokens]
    return tokens


# --- numbers as code and other tools print or write them -----------------------------------------
# Python, NumPy and torch reprs, pandas' printed Series, JSON, R's c() and printed vectors,
# MATLAB/Octave matrices and displays, a spreadsheet's copied column: each is read as the numbers
# it holds, and the page says what it was read as (``read_as``).

MISSING = {"nan", "na", "n/a", "#n/a", "null", "none", "nil", "missing", "#div/0!", "#value!", "#num!", "#ref!",
           "#null!", "#name?", "-", "--", "?"}  # cells and printouts for "no value": NaN
_INFINITE = {"inf": "inf", "+inf": "inf", "-inf": "-inf", "infinity": "inf", "+infinity": "inf",
             "-infinity": "-inf", "∞": "inf", "+∞": "inf", "-∞": "-inf"}
_ASSIGNMENT = re.compile(r"^\s*[A-Za-z_][\w.]*\s*(?:=|<-|:=)\s*(?![=])")  # x = …, x <- …, x := …
_CALL = re.compile(r"\b(?:[A-Za-z_][\w.]*\.)?(array|tensor|Series|c|list|tuple|float64|float32|int64|int32|"
                   r"double|single|vector|matrix|asarray|from_numpy)\s*\(")
_KEYWORD = re.compile(r",?\s*\b(?:dtype|device|requires_grad|name|grad_fn|index)\s*=\s*[^,)\]\n]*")
_PANDAS_FOOTER = re.compile(r"^\s*(?:Name:.*|dtype:.*|Length:.*|Freq:.*)$", re.M)
_R_INDEX = re.compile(r"^\s*\[\d+\]", re.M)
_OCTAVE_HEAD = re.compile(r"^\s*(?:[A-Za-z_]\w*\s*=|ans\s*=|Columns \d+ (?:through|and) \d+:?)\s*$", re.M)


def _json_numbers(text: str) -> list | None:
    """The numbers of a JSON array (nested arrays flattened; null is NaN), or of an object with
    one array of them; None if ``text`` is not such JSON."""
    import json

    try:
        data = json.loads(text)
    except ValueError:
        return None
    if isinstance(data, dict):
        arrays = [v for v in data.values() if isinstance(v, list)]
        data = arrays[0] if len(arrays) == 1 else None
    if not isinstance(data, list):
        return None
    flat = []
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif item is None:
            flat.append("nan")
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            flat.append(repr(float(item)))
        else:
            return None
    return flat


def _pandas_values(lines: list[str]) -> list[str] | None:
    """A printed pandas Series (an index, then the value, on each line): its values."""
    rows = [line.split() for line in lines if line.strip()]
    if len(rows) < 2 or any(len(r) < 2 for r in rows):
        return None
    return [r[-1] for r in rows]


def unwrap(text: str) -> tuple[str, str, str]:
    """(the numbers as plain text, what the text was read as, a column header or ""). ``text``
    already :func:`plain`. What it was read as: "json", "pandas", "r", "code" (a list, array or
    tensor as Python, NumPy, torch, R's c() or MATLAB write it), "column" (a spreadsheet's column
    under a header) or "" (plain numbers)."""
    stripped = text.strip()
    if stripped[:1] in "[{" and (numbers := _json_numbers(stripped.replace("NaN", "null"))) is not None:
        return " ".join(numbers), "json", ""
    if footer := _PANDAS_FOOTER.search(text):
        body = _PANDAS_FOOTER.sub("", text)
        if (values := _pandas_values(body.splitlines())) is not None:
            name = re.search(r"Name:\s*([^,\n]+)", text[footer.start():])
            return " ".join(values), "pandas", name.group(1).strip()[:40] if name else ""
    if _R_INDEX.search(text):
        return _R_INDEX.sub(" ", text), "r", ""
    code = _OCTAVE_HEAD.sub(" ", _ASSIGNMENT.sub("", text))
    code, calls = _CALL.subn(" ", code)
    code = _KEYWORD.sub(" ", code)
    brackets = sum(code.count(b) for b in "[](){}")
    if calls or brackets or code != text:
        code = re.sub(r"[\[\](){}]", " ", code).strip().rstrip(";")
        return code, "code", ""
    first, _, rest = stripped.partition("\n")
    words = first.split()
    if words and rest.strip() and not any(_to_float(w.replace(",", "")) is not None or w.lower() in MISSING
                                          for w in words):
        return rest, "column", first.strip()[:40]  # a spreadsheet column under its header
    return text, "", ""


def _canonical(token: str) -> str:
    """Missing-value cells as NaN, infinities as Python writes them, a trailing comma or ``;`` gone."""
    low = token.strip().lower().rstrip(",;")
    if low in MISSING:
        return "nan"
    return _INFINITE.get(low, token.strip().rstrip(";"))


def _tokens(text: str) -> tuple[list[str], str]:
    """The numbers' tokens and the format assumed for commas inside them (:func:`comma_format`),
    or "commas_separate" (a comma between two digits taken as a separator: "1,5" is 1 and 5)."""
    tokens = [tok for tok in _GAPS.split(text) if tok]
    if len(tokens) > 1 and (number_format := comma_format(tokens)):
        return in_format(tokens, number_format), number_format
    between_digits = any(re.search(r"\d,\d", tok) for tok in tokens)
    return [tok for tok in _TOKEN_SPLIT.split(text) if tok], "commas_separate" if between_digits else ""


def parse_pasted(text: str) -> Series:
    """Numbers separated by spaces, commas, semicolons or new lines (``nan``/``inf`` allowed), or
    as code and tools write them (:func:`unwrap`; said in the notes' ``read_as``).
    Where something other than commas separates them, a comma inside a number is read as a
    decimal comma or between thousands when only one reading fits, and said in the notes
    (``number_format``) when it had to be assumed; full-width input is read as ASCII."""
    numbers, read_as, header = unwrap(plain(text or ""))
    tokens, number_format = _tokens(numbers)
    tokens = [tok for tok in (_canonical(tok) for tok in tokens) if tok]
    if not tokens:
        raise SeriesError("empty")
    if len(tokens) > MAX_POINTS:
        raise SeriesError("too_long", n=len(tokens), max=MAX_POINTS)
    values = np.empty(len(tokens))
    for i, tok in enumerate(tokens):
        v = _to_float(tok)
        if v is None:
            raise SeriesError("bad_token", token=tok[:40], pos=i + 1)
        values[i] = v
    return finish(values, header or "pasted", number_format=number_format, read_as=read_as, header=header)


def downsample_indices(values: np.ndarray, max_points: int = 4000) -> np.ndarray:
    """Indices to draw at most ~``max_points`` points, keeping each bucket's min and max.

    The chart then shows spikes a plain stride would hide; the EWMA itself is always computed
    on every point.
    """
    n = len(values)
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, max_points // 2)
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    v = np.where(np.isfinite(values), values, np.nan)
    keep = [0, n - 1]
    for lo, hi in zip(edges[:-1], edges[1:]):
        chunk = v[lo:hi]
        if hi <= lo or np.all(np.isnan(chunk)):
            keep.append(lo)
            continue
        keep += [lo + int(np.nanargmin(chunk)), lo + int(np.nanargmax(chunk))]
    return np.unique(np.asarray(keep))
