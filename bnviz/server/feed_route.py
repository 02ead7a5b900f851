"""The route a live page's browser asks for its feed on: ``POST <base>/bnviz/feed`` with
``{"token": …, "held": {chart: {dataset: [source, version]}}}`` (:mod:`bnviz.server.live_feed`).
The answer is computed in the server's thread pool, not on its event loop."""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bnviz.server.live_feed import FEEDS

PATH = "bnviz/feed"
MAX_BODY = 1 << 20  # what a browser holds fits in far less


async def _feed(request: Request) -> Response:
    body = await request.body()
    try:
        if len(body) > MAX_BODY:
            raise ValueError("too large")
        asked = json.loads(body)
        token, held = str(asked["token"]), asked.get("held") or {}
        if not isinstance(held, dict):
            raise ValueError("held is not an object")
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "bad request"}, status_code=400)
    answer = await run_in_threadpool(FEEDS.answer, token, held)
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


def address(base: str = "") -> str:
    """The feed's path under the server's base path (``server.baseUrlPath``)."""
    return "/" + "/".join(p for p in (base.strip("/"), PATH) if p)


def routes(base: str = "") -> list[Route]:
    return [Route(address(base), _feed, methods=["POST"])]
