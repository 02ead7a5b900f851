"""Benchmarks: ``python -m bench [name ...]`` prints a table of figures measured in one run."""
