"""Parsing Python from many threads (bnviz.server.pysource): one parse at a time, listings read once."""

import ast
import contextlib
import inspect
import threading
import time

from bnviz.batchnorm import scratch
from bnviz.optimization import typed_surfaces
from bnviz.server import pysource


def most_parses_at_once(monkeypatch) -> tuple[int, list, list]:
    """Eight students each parse formulas and read the BatchNorm page's listings: how many
    ``ast.parse`` calls ran at the same moment, at most; what they got, and what they raised."""
    inside, most, lock = [0], [0], threading.Lock()
    real = ast.parse

    def watched(*args, **kwargs):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.002)  # long enough for another thread to come in, were it allowed
        try:
            return real(*args, **kwargs)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(ast, "parse", watched)
    pysource.listing.cache_clear()
    results, errors = [], []

    def student(i):
        try:
            for _ in range(5):
                results.append(typed_surfaces.parse(f"x**2 + {i}*y"))
                results.append(pysource.listing(scratch.BatchNormScratch))  # a class: found by parsing
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=student, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    return most[0], results, errors


def test_parses_from_many_threads_never_overlap(monkeypatch):
    """CPython 3.11's AST constructor shares its recursion depth between threads
    (python/cpython#106905): the app's parses — formulas, the code listing — take turns."""
    most, results, errors = most_parses_at_once(monkeypatch)
    assert most == 1 and not errors and len(results) == 80


def test_without_the_lock_they_would(monkeypatch):
    """The check above can fail: with no lock, the same students' parses overlap — and now and
    then hit the very bug the lock keeps out (a busy CI machine's threads did)."""
    monkeypatch.setattr(pysource, "PARSE_LOCK", contextlib.nullcontext())
    most, results, errors = most_parses_at_once(monkeypatch)
    assert most > 1
    assert all(isinstance(e, SystemError) and "recursion depth mismatch" in str(e) for e in errors), errors
    assert errors or len(results) == 80  # a student stops at its first error


def test_a_listing_is_the_functions_source_read_once():
    pysource.listing.cache_clear()
    text = pysource.listing(scratch.batch_stats, scratch.normalise)
    assert text == inspect.getsource(scratch.batch_stats) + "\n" + inspect.getsource(scratch.normalise)
    assert pysource.listing(scratch.batch_stats, scratch.normalise) is text  # the same string: not read again
