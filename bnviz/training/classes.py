"""A class that searches together, the notes' caviar: a teacher opens a class, each student
submits one model's settings, and on Start every submitted model trains in one batched job
(:mod:`bnviz.training.class_job`).

The teacher holds the class by its teacher token (random; kept by the teacher's session and
browser, never in a link: a reload finds the class again); students reach it by its code
(random, URL-safe, in the link and the QR code) and can only add, change or take back their own
entry (one per student session), while submissions are open and before the class has started.
Nicknames are plain text: control and formatting characters are removed, whitespace collapsed,
at most :data:`NICK_MAX` characters; a nickname already taken is told apart by a number. At most
``max_entries`` entries, at most one submission per :data:`SUBMIT_INTERVAL_S` per session. Every
refusal is a :class:`ClassRefused` with a key the page words in the student's language.
"""

from __future__ import annotations

import math
import re
import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass, field, replace

from bnviz.errors import KeyedError
from bnviz.training import wide
from bnviz.training.class_job import ClassJob, Setup

NICK_MAX = 24
MAX_ENTRIES = 60
SUBMIT_INTERVAL_S = 1.0
LR_RANGE = (1e-4, 10.0)  # what a student may pick, on a log scale
SEED_MAX = 10**6
CLASS_HOURS = 12.0
FIELDS = ("lr", "batch_norm", "optimizer", "momentum", "seed")  # what a teacher may let students set


class ClassRefused(KeyedError, ValueError):
    """A submission or a teacher's action refused; ``key``/``params`` say why."""


@dataclass(frozen=True)
class Entry:
    session: str
    nickname: str  # as shown: cleaned, and numbered when taken
    member: wide.Member
    submitted: float


def clean_nickname(text) -> str:
    """A nickname as plain text: NFKC, no control or formatting characters, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", str(text or ""))
    text = "".join(" " if ch.isspace() else ch for ch in text
                   if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf", "Co", "Cs", "Cn"))
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise ClassRefused("class_nick_empty")
    if len(text) > NICK_MAX:
        raise ClassRefused("class_nick_long", limit=NICK_MAX)
    return text


def member_from(settings: dict, allowed: frozenset, default: wide.Member) -> wide.Member:
    """The model a student asks for: the fields the teacher allows from ``settings``, the rest
    from ``default``; out-of-range values refused by name."""
    values = {}
    for name in allowed:
        if name in settings:
            values[name] = settings[name]
    try:
        if "lr" in values:
            lr = float(values["lr"])
            if not (math.isfinite(lr) and LR_RANGE[0] <= lr <= LR_RANGE[1]):
                raise ClassRefused("class_lr_range", lo=f"{LR_RANGE[0]:g}", hi=f"{LR_RANGE[1]:g}")
            values["lr"] = lr
        if "momentum" in values:
            values["momentum"] = float(values["momentum"])
        if "seed" in values:
            seed = float(values["seed"])
            if not (seed.is_integer() and 0 <= seed <= SEED_MAX):
                raise ClassRefused("class_seed_range", hi=SEED_MAX)
            values["seed"] = int(seed)
        if "batch_norm" in values:
            values["batch_norm"] = bool(values["batch_norm"])
        return replace(default, **values)
    except (TypeError, ValueError) as err:
        if isinstance(err, ClassRefused):
            raise
        raise ClassRefused("class_bad_setting") from None


@dataclass
class Class:
    code: str
    teacher: str  # the teacher's token
    setup: Setup
    allowed: frozenset = frozenset({"lr", "batch_norm"})
    default: wide.Member = wide.Member(0.1, batch_norm=True)
    max_entries: int = MAX_ENTRIES
    open: bool = True
    entries: dict = field(default_factory=dict)  # session → Entry, in order of first submission
    job: ClassJob | None = None
    created: float = field(default_factory=time.monotonic)
    _last: dict = field(default_factory=dict)  # session → time of its last submission
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ---- students ---------------------------------------------------------------------------
    def submit(self, session: str, nickname, settings: dict, now: float | None = None) -> Entry:
        """Add or replace this session's entry."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if self.job is not None:
                raise ClassRefused("class_started")
            if not self.open:
                raise ClassRefused("class_closed")
            last = self._last.get(session)
            if last is not None and now - last < SUBMIT_INTERVAL_S:
                raise ClassRefused("class_too_fast", s=f"{SUBMIT_INTERVAL_S:g}")
            if session not in self.entries and len(self.entries) >= self.max_entries:
                raise ClassRefused("class_full", n=self.max_entries)
            name = self._distinct(clean_nickname(nickname), session)
            member = member_from(settings, self.allowed, self.default)
            self._last[session] = now
            entry = Entry(session, name, member, now)
            self.entries[session] = entry
            return entry

    def withdraw(self, session: str) -> None:
        with self._lock:
            if self.job is not None:
                raise ClassRefused("class_started")
            self.entries.pop(session, None)

    def _distinct(self, name: str, session: str) -> str:
        taken = {e.nickname.casefold() for s, e in self.entries.items() if s != session}
        if name.casefold() not in taken:
            return name
        return next(f"{name} #{i}" for i in range(2, len(taken) + 3) if f"{name} #{i}".casefold() not in taken)

    def entry(self, session: str) -> Entry | None:
        with self._lock:
            return self.entries.get(session)

    def roster(self) -> list[Entry]:
        with self._lock:
            return list(self.entries.values())

    # ---- the teacher ------------------------------------------------------------------------
    def set_open(self, is_open: bool) -> None:
        with self._lock:
            self.open = bool(is_open)

    def start(self, data, launch=None) -> ClassJob:
        """Train every entry together (:class:`JobRefused` over the cap, ClassRefused with none):
        in a thread of this process on ``data``, or as ``launch(members, setup, data)`` starts it
        (the page's engine: :func:`bnviz.cluster.engine.start_class`)."""
        with self._lock:
            if self.job is not None:
                raise ClassRefused("class_started")
            if not self.entries:
                raise ClassRefused("class_empty")
            members = [e.member for e in self.entries.values()]
            if launch is None:
                self.job = ClassJob(members, data, self.setup).start()
            else:
                self.job = launch(members, self.setup, lambda: data)
            return self.job

    def stop(self) -> None:
        if self.job is not None:
            self.job.stop()

    def reset(self) -> None:
        """Stop the training and clear the entries: the class can take submissions again."""
        with self._lock:
            job, self.job = self.job, None
            self.entries.clear()
            self._last.clear()
        if job is not None:
            job.stop()
            job.join(30)


class Registry:
    """Every open class of this server, by code. A class not closed by its teacher goes after
    :data:`CLASS_HOURS` hours, once it is not training (a teacher's tab closed for good)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._classes: dict[str, Class] = {}

    def create(self, setup: Setup, **options) -> Class:
        now = time.monotonic()
        for old in [c for c in list(self._classes.values())
                    if now - c.created > CLASS_HOURS * 3600 and (c.job is None or not c.job.alive)]:
            self.close(old.code)
        with self._lock:
            code = secrets.token_urlsafe(6)
            while code in self._classes:
                code = secrets.token_urlsafe(6)
            made = Class(code=code, teacher=secrets.token_urlsafe(16), setup=setup, **options)
            self._classes[code] = made
            return made

    def find(self, code: str) -> Class | None:
        with self._lock:
            return self._classes.get(str(code or ""))

    def find_taught(self, token: str) -> Class | None:
        """The class whose teacher token is ``token`` (a teacher's browser after a reload)."""
        if not token:
            return None
        with self._lock:
            return next((c for c in self._classes.values() if secrets.compare_digest(c.teacher, str(token))), None)

    def close(self, code: str) -> None:
        """The teacher closes the class: its training stops and its code no longer works."""
        with self._lock:
            gone = self._classes.pop(code, None)
        if gone is not None:
            gone.reset()

    def __len__(self) -> int:
        with self._lock:
            return len(self._classes)


REGISTRY = Registry()
