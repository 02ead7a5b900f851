"""Files the browser loads from ``static/`` (served by Streamlit at ``app/static/``,
``server.enableStaticServing``): our components' scripts and the Vega they run.

A components-v2 script given inline is sent with the component on every run that draws it — a
live fragment's every refresh. Such a component gets :func:`loader` instead: three lines that
import the script from ``static/`` once per page.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "static"


@functools.cache
def url(name: str) -> str:
    """The URL of ``static/name``, with its content's hash so that a browser loads a new version
    anew (read once per server process)."""
    from streamlit import config

    base = (config.get_option("server.baseUrlPath") or "").strip("/")
    digest = hashlib.sha1((STATIC / name).read_bytes()).hexdigest()[:10]
    return "/" + "/".join(p for p in (base, "app/static", name) if p) + f"?v={digest}"


def loader(name: str, export: str = "default") -> str:
    """An inline component script that imports ``static/name`` and hands the component to its
    ``export`` (an absolute URL: the inline script itself runs from a blob)."""
    return ("export default function (component) { let done = null;\n"
            f"  import(new URL({json.dumps(url(name))}, window.location.origin).href)\n"
            f"    .then((m) => {{ done = m[{json.dumps(export)}](component); }});\n"
            "  return () => done && done(); }")
