"""Tabs without a browser: Streamlit's own websocket protocol, spoken by a few lines of Python.

A :class:`WireTab` asks for a page as a browser does (``BackMsg.rerun_script`` with the link's
query string, kept as the page rewrites it), reads what the server sends back (``ForwardMsg``:
elements, the fragment timers, the end of each run) and re-runs a live fragment at the interval the server asked for, as
Streamlit's frontend does; a fed page (bnviz/server/live_feed.py) it asks for its feed as the
browser does (``POST bnviz/feed`` with what each chart holds). It draws nothing, so thirty of them
cost the machine next to nothing and the server does exactly the work thirty real tabs would ask
of it. Used by the load test (most of its watchers) and by ``python -m bench bn-gil`` (every viewer).

All tabs of a :class:`Wire` share one event loop in one thread of the calling process.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import urllib.request
from collections import deque

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect

FED_TEXT = "bnviz_live_text"
FED_CHART = "bnviz_live_chart"

STEP = re.compile(r"step (\d+)/|第 (\d+)/\d+ 步")  # English or Chinese progress bar
FINISHED = ForwardMsg.ScriptFinishedStatus


class WireTab:
    """One tab: ``path`` (``batchnorm?watch=…``) on the server at ``port``.

    What it saw: ``steps`` shown by the page's progress bar, :meth:`interval` of its live
    fragment or feed (None between a page's whole run and its live part), ``paces`` (every
    interval it was ever asked for), ``refreshes`` (seconds from a fragment's rerun request to
    its end, or from a poll of the feed to its answer), ``asked`` (when each refresh was asked
    for, ``time.perf_counter``; one asked before a count began may end after it), ``polls`` of
    the feed, ``runs`` (finished runs, whole or fragment), ``buttons`` and ``inputs`` (label →
    widget id of its buttons and text inputs, latest run), ``texts`` (the last 2000 messages:
    markdown, alerts, code blocks, metric labels), ``status`` (the progress bar's or live status
    line's text), ``exceptions`` (texts of ``st.exception`` elements),
    ``problems`` (anything the protocol did not expect, e.g. a closed socket)."""

    def __init__(self, port: int, path: str):
        self.url = f"ws://127.0.0.1:{port}/_stcore/stream"
        self.http = f"http://127.0.0.1:{port}"
        self.feed: dict | None = None  # a fed page's feed: {url, token, every}
        self.held: dict[str, dict] = {}  # fed chart key → dataset → [source, version]
        self.polls = 0
        page, _, self.query = path.partition("?")
        self.page_name = page
        self.page_hash = ""
        self.steps: list[int] = []
        self.refreshes: list[float] = []
        self.asked: list[float] = []
        self.runs = 0
        self.buttons: dict[str, str] = {}
        self.inputs: dict[str, str] = {}
        self.texts: deque[str] = deque(maxlen=2000)
        self.status = ""  # the page's progress bar or live status line, as last sent
        self.exceptions: list[str] = []
        self.problems: list[str] = []
        self._fragments: dict[str, float] = {}  # live fragment id → its interval (s)
        self.paces: set[float] = set()  # every interval the server ever asked of it
        self._sent = 0.0
        self._fragment_run = False
        self._idle = asyncio.Event()
        self._ws = None

    # ---- what a test asks --------------------------------------------------------------
    def last_step(self) -> int | None:
        return self.steps[-1] if self.steps else None

    def interval(self) -> float | None:
        """Seconds between refreshes of its live fragment or its feed, as the server last asked
        (None: none live)."""
        if self._fragments:
            return next(iter(self._fragments.values()))
        return self.feed["every"] if self.feed else None

    # ---- the protocol ------------------------------------------------------------------
    async def _send(self, fragment_id: str = "", clicks: tuple[str, ...] = (), typed: dict | None = None) -> None:
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query
        state.page_name = self.page_name
        state.page_script_hash = self.page_hash
        if fragment_id:
            state.fragment_id = fragment_id
            state.is_auto_rerun = True
        for widget_id in clicks:  # a button's click: its trigger set for this one run
            state.widget_states.widgets.add(id=widget_id, trigger_value=True)
        for widget_id, text in (typed or {}).items():  # a text input's committed value
            state.widget_states.widgets.add(id=widget_id, string_value=text)
        self._idle.clear()
        self._fragment_run = bool(fragment_id)
        self._sent = time.perf_counter()
        if fragment_id:
            self.asked.append(self._sent)
        await self._ws.send(msg.SerializeToString())

    def _read(self, raw: bytes) -> None:
        msg = ForwardMsg()
        msg.ParseFromString(raw)
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.page_hash = msg.new_session.page_script_hash
            if not msg.metadata.run.fragment_ids:  # a whole run: as the frontend, forget every timer
                self._fragments.clear()
                self.feed, self.held = None, {}
                self.buttons, self.inputs = {}, {}
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            el = msg.delta.new_element
            which = el.WhichOneof("type")
            if which == "progress":
                self._status(el.progress.text)
            elif which == "button":
                self.buttons[el.button.label] = el.button.id
            elif which == "text_input":
                self.inputs[el.text_input.label] = el.text_input.id
            elif which == "metric":
                self.texts.append(el.metric.label)
            elif which == "exception":
                self.exceptions.append(el.exception.message)
            elif which in ("alert", "markdown"):
                self.texts.append(getattr(el, which).body)
            elif which == "code":
                self.texts.append(el.code.code_text)
            elif which == "bidi_component":
                self._component(el.bidi_component)
        elif kind == "navigation":  # the page st.navigation ran (a first run's new_session names the entry script)
            self.page_hash = msg.navigation.page_script_hash
        elif kind == "page_info_changed":  # the page wrote its link: a browser's address bar follows
            self.query = msg.page_info_changed.query_string
        elif kind == "auto_rerun":
            self._fragments[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
            self.paces.add(msg.auto_rerun.interval)
        elif kind == "stop_auto_rerun":
            self._fragments.clear()
        elif kind == "script_finished":
            if msg.script_finished == FINISHED.FINISHED_EARLY_FOR_RERUN:
                return
            self.runs += 1
            if msg.script_finished == FINISHED.FINISHED_FRAGMENT_RUN_SUCCESSFULLY and self._fragment_run:
                self.refreshes.append(time.perf_counter() - self._sent)
            self._idle.set()
        elif kind == "ref_hash":
            self.problems.append("the server referred to a cached message this tab never had")

    def _component(self, bc) -> None:
        """Our live components: a chart (its key: the feed answers its rows) and a live text (the
        status line's step; the leading one gives the feed, or none)."""
        name = bc.component_name.rsplit(".", 1)[-1]
        if name not in (FED_TEXT, FED_CHART):
            return
        data = json.loads(bc.json or bc.mixed.json or "{}")
        if name == FED_CHART:
            key = data["meta"]["key"]
            if data["meta"].get("fed"):
                self.held.setdefault(key, {})
            return
        self._text(data["key"], data["value"])
        if data.get("leads"):
            self.feed = data.get("feed")
            if self.feed:
                self.paces.add(self.feed["every"])

    def _text(self, key: str, value) -> None:
        if key == "bn_status":
            self._status(value["text"])

    def _status(self, text: str) -> None:
        """The progress bar's or the live status line's text, and the run's step in it."""
        self.status = text
        if found := STEP.search(text):
            self.steps.append(int(found.group(1) or found.group(2)))

    def _poll(self) -> dict:
        """One ask for the feed (in a thread: the event loop serves the other tabs meanwhile)."""
        body = json.dumps({"token": self.feed["token"], "held": self.held}).encode()
        request = urllib.request.Request(self.http + self.feed["url"], data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as r:
            return json.loads(r.read())

    async def _follow_feed(self) -> None:
        answer = await asyncio.to_thread(self._poll)
        self.polls += 1
        self.refreshes.append(time.perf_counter() - self._sent)
        if answer.get("gone") or answer.get("rerun"):
            self.feed = None  # the page drawn anew (a browser reruns the fragment; this, the page)
            await self._send()
            return
        for key, chart in answer.get("charts", {}).items():
            for name, feed in chart["feeds"].items():
                self.held.setdefault(key, {})[name] = [feed["source"], feed["version"]]
        for key, value in answer.get("texts", {}).items():
            self._text(key, value)

    async def _receive(self) -> None:
        async for raw in self._ws:
            self._read(raw)

    async def main(self, delay: float, stop: asyncio.Event) -> None:
        """Open the page after ``delay`` s, then follow its live fragment until ``stop``."""
        await asyncio.sleep(delay)
        try:
            async with connect(self.url, subprotocols=["streamlit"], max_size=None, compression=None) as ws:
                self._ws = ws
                receiver = asyncio.create_task(self._receive())

                async def until(*waits, timeout=None) -> bool:
                    """Wait for the first of ``waits`` (or ``timeout``); False if the socket closed."""
                    tasks = [asyncio.ensure_future(w) for w in waits]
                    await asyncio.wait([*tasks, receiver], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                    for task in tasks:
                        task.cancel()
                    return not receiver.done()

                await self._send()
                while not stop.is_set():
                    if not await until(self._idle.wait(), stop.wait()):
                        break
                    if not self._fragments and self.feed:  # fed: ask for the feed, no script run
                        due = self._sent + self.feed["every"] - time.perf_counter()
                        if due > 0 and not await until(stop.wait(), timeout=due):
                            break
                        if not stop.is_set() and self.feed:
                            self._sent = time.perf_counter()
                            self.asked.append(self._sent)
                            await self._follow_feed()
                        continue
                    if not self._fragments:  # nothing live: wait for a press or the end
                        if not await until(stop.wait(), timeout=0.2):
                            break
                        continue
                    fragment_id, every = next(iter(self._fragments.items()))
                    due = self._sent + every - time.perf_counter()
                    if due > 0 and not await until(stop.wait(), timeout=due):
                        break
                    # A press meanwhile ran the page again and gave the fragment a new id: the server
                    # answers nothing to the old one (the tab would wait for ever).
                    if not stop.is_set() and self._idle.is_set() and fragment_id in self._fragments:
                        await self._send(fragment_id)
                if receiver.done() and not stop.is_set():
                    self.problems.append("the server closed the connection")
                receiver.cancel()
        except Exception as exc:
            self.problems.append(f"{type(exc).__name__}: {exc}")


class Wire:
    """Wire tabs on one event loop in a thread: ``open`` them, ``press`` their buttons, ``wait``
    for what they see, ``close`` them all."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="wire-tabs", daemon=True)
        self._thread.start()
        self._stop = asyncio.Event()  # set from this thread with call_soon_threadsafe
        self.tabs: list[WireTab] = []
        self.problems: list[str] = []
        self._tasks = []

    def open(self, port: int, path: str, delay: float = 0.0) -> WireTab:
        tab = WireTab(port, path)
        self.tabs.append(tab)
        self._tasks.append(asyncio.run_coroutine_threadsafe(tab.main(delay, self._stop), self.loop))
        return tab

    def press(self, tab: WireTab, label: str | None = None, ids: tuple = (), typed: dict | None = None) -> None:
        """Click a button by its label as the tab last saw it, or send clicks for any widget ids
        (forged ones too): one rerun of the whole page with those triggers set, and with the
        text inputs of ``typed`` (label → text) holding those texts."""
        clicks = tuple(ids) or (tab.buttons[label],)
        values = {tab.inputs[name]: text for name, text in (typed or {}).items()}
        asyncio.run_coroutine_threadsafe(tab._send(clicks=clicks, typed=values), self.loop).result(10)

    def wait(self, ok, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ok():
            if time.monotonic() > deadline:
                raise TimeoutError(f"wire tabs: {what} not within {timeout:g} s")
            time.sleep(0.05)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self._stop.set)
        for task in self._tasks:
            try:
                task.result(15)
            except Exception as exc:
                self.problems.append(f"{type(exc).__name__}: {exc}")
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
