"""Exponentially weighted averages, the course's first tool (the EWMA page).

- :mod:`~bnviz.smoothing.ewma` — the average in its three forms (from zero, bias-corrected, from
  the first value), the weights, the effective window and the lag, each with its LaTeX;
- :mod:`~bnviz.smoothing.ewma_frames` — the tables the page draws: every β of the slider's grid
  computed once, the weights and the lag, the CSV export.
"""
