"""Python source read and parsed from many threads at once (a class opening a page together).

CPython 3.11 keeps the AST constructor's recursion depth in state that all threads share, so two
sessions parsing at the same moment can fail with ``SystemError: AST constructor recursion depth
mismatch`` (python/cpython#106905). Thirty watchers opening the BatchNorm page together did,
through ``inspect.getsource`` of its code listing. Every parse of the app goes through
:data:`PARSE_LOCK`, and a listing is read once per process.
"""

from __future__ import annotations

import ast
import functools
import inspect
import threading

PARSE_LOCK = threading.Lock()


def parse(text: str, mode: str = "exec") -> ast.AST:
    """``ast.parse(text, mode)``, one thread at a time."""
    with PARSE_LOCK:
        return ast.parse(text, mode=mode)


@functools.cache
def listing(*objects) -> str:
    """The source code of ``objects`` (functions, classes), one after the other."""
    with PARSE_LOCK:  # inspect finds a class's lines by parsing its module
        return "\n".join(inspect.getsource(o) for o in objects)
