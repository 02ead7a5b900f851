"""What a live chart in a viewer's browser receives: only the rows it has not seen.

A chart's data is a :class:`Table`: every row so far, oldest first, each with the *version* it
arrived at (a training step, an epoch), and a ``source`` that names what the rows are of (a run,
a layer, a thinning of the history). Rows of one source are only ever appended, so a viewer that
holds a table up to version ``v`` needs only the rows after ``v``::

    held rows + delta(table, held).rows == table.frame            (same source)

and anything else — a first look, a new run, a Reset, a new layer, a thinned history — changes
the source, and the viewer receives the whole table in place of what it held. :func:`apply` is
what the browser does with a delta (``bnviz/ui/live_chart.js`` does it with a Vega changeset);
the tests check the identity above with it for every gap between two versions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Table:
    """Every row of one chart's dataset, oldest first; ``versions[i]`` is the version row ``i``
    arrived at (non-decreasing). Rows of one ``source`` are never changed, only appended."""

    source: str
    frame: pd.DataFrame
    versions: np.ndarray

    def __post_init__(self):
        if len(self.versions) != len(self.frame):
            raise ValueError(f"{len(self.versions)} versions for {len(self.frame)} rows")
        if len(self.versions) > 1 and np.any(np.diff(self.versions) < 0):
            raise ValueError("versions must not decrease")

    @property
    def version(self) -> int:
        """The version of the newest row (-1 for an empty table)."""
        return int(self.versions[-1]) if len(self.versions) else -1


def whole(source: str, frame: pd.DataFrame) -> Table:
    """A small table sent whole whenever it changes: ``source`` must name its content (say, a
    count of what it holds), so that a change is a new source."""
    return Table(source, frame.reset_index(drop=True), np.zeros(len(frame), dtype=np.int64))


@dataclass(frozen=True)
class Held:
    """What a viewer holds of one table: its source and the version of its newest row."""

    source: str
    version: int


@dataclass(frozen=True)
class Delta:
    """What a viewer receives: the rows after ``base`` (``whole``: in place of all it held)."""

    source: str
    whole: bool
    base: int  # the version the viewer must hold for these rows to follow it (-1 with whole)
    version: int
    rows: pd.DataFrame

    @property
    def held(self) -> Held:
        return Held(self.source, self.version)


def delta(table: Table, held: Held | None) -> Delta:
    """The rows a viewer holding ``held`` (None: nothing) lacks of ``table``."""
    if held is None or held.source != table.source or held.version > table.version:
        return Delta(table.source, True, -1, table.version, table.frame.reset_index(drop=True))
    first = int(np.searchsorted(table.versions, held.version, side="right"))  # versions never decrease
    return Delta(table.source, False, held.version, table.version, table.frame.iloc[first:].reset_index(drop=True))


def tail(table: Table, held: Held | None, column: str) -> Delta:
    """What a viewer that shows only the newest rows receives (a histogram grid, or γ and β, while
    the scrubber follows the newest capture: the history is asked for when the scrubber is
    touched): the rows of the newest ``column`` value (one capture's, which arrive together) in
    place of all it held, or nothing if it holds this source's newest version already."""
    if held is not None and held.source == table.source and held.version == table.version:
        return Delta(table.source, False, held.version, held.version, table.frame.iloc[:0].reset_index(drop=True))
    frame = table.frame
    newest = frame[frame[column] == frame[column].max()] if len(frame) else frame
    return Delta(table.source, True, -1, table.version, newest.reset_index(drop=True))


class Gap(ValueError):
    """A delta that does not follow what the viewer holds (it asks for the whole table)."""


def apply(frame: pd.DataFrame | None, held: Held | None, d: Delta) -> tuple[pd.DataFrame, Held]:
    """What a viewer holds after receiving ``d``: the whole table, or its rows appended."""
    if d.whole:
        return d.rows, d.held
    if held is None or frame is None or held.source != d.source or held.version != d.base:
        raise Gap(f"holds {held}, the delta follows {d.source}@{d.base}")
    return pd.concat([frame, d.rows], ignore_index=True), d.held
