"""Searching hyper-parameters on the right scale (the tuning page, first part).

- :mod:`~bnviz.tuning.search` — the score landscape of an optimizer over log α × log(1 − β), the
  notes' grid against random search with the same budget, coarse to fine, and where samples of β
  land on a linear vs a logarithmic scale.

The tuning page's second part, the learning-rate sweep that trains real models, is part of the
training engine (:mod:`bnviz.training.sweep`).
"""
