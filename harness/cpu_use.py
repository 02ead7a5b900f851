"""Who used the machine's cores over a window of ``bench load``: the server's training threads,
the rest of the server, Chromium's renderers (the tabs' pages), Chromium's other processes (its
browser, GPU and network processes), everything else (the harness, Playwright's driver, the
kernel's own threads) and what stayed idle (``bench pair`` reads the idle alone). Read from /proc:
each process's user and system time, and the machine's in /proc/stat (Linux only, as the load
test is).

A process that ends inside a window takes its time with it: what it used is then counted in
"else" (the machine's count keeps it). A settled class's tabs do not end."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from typing import NamedTuple

TICK = os.sysconf("SC_CLK_TCK")
CHROMIUM_NAMES = ("chromium", "chrome", "headless_shell")  # the executable's name, any install
TYPE = re.compile(rb"--type=([a-z-]+)")
KINDS = ("trainings", "server", "renderers", "chromium", "else", "idle")


@dataclass(frozen=True)
class Reading:
    """CPU seconds used so far: by the machine (busy, idle), the server's training threads and its
    other threads, and each Chromium process (pid → seconds, renderer or not)."""

    at: float
    busy: float
    idle: float
    training: float
    server: float
    renderers: dict = field(default_factory=dict)
    chromium: dict = field(default_factory=dict)


def machine() -> tuple[float, float]:
    """(busy, idle) seconds of every core together: /proc/stat's first line (user, nice, system,
    idle, iowait, irq, softirq; time stolen by a hypervisor is neither)."""
    with open("/proc/stat") as fh:
        user, nice, system, idle, iowait, irq, softirq = (int(x) for x in fh.readline().split()[1:8])
    return (user + nice + system + irq + softirq) / TICK, (idle + iowait) / TICK


class Process(NamedTuple):
    """A process as /proc has it (also bench/watchers.py's view of a Chromium's process tree)."""

    parent: int
    cpu: float  # CPU seconds used so far (user and system)
    kind: str  # Chromium's process type (renderer, gpu-process, …); "" for its main process or another program
    name: str  # the executable's name


def command_line(pid: int) -> bytes | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read()
    except OSError:  # ended meanwhile
        return None


def _cpu(fields: list[str]) -> float:
    """CPU seconds of a /proc stat line's fields after the command's name: utime + stime."""
    return (int(fields[11]) + int(fields[12])) / TICK


def processes() -> dict[int, Process]:
    """Every process on the machine now (one that ends meanwhile is left out)."""
    found = {}
    for pid in (int(name) for name in os.listdir("/proc") if name.isdigit()):
        line = command_line(pid)
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rpartition(")")[2].split()
        except OSError:
            continue
        kind = TYPE.search(line or b"")  # a child may rewrite its command line as one string
        name = os.path.basename((line or b"").split(b"\0")[0].split(b" ")[0]).decode(errors="replace")
        found[pid] = Process(int(fields[1]), _cpu(fields), kind.group(1).decode() if kind else "", name)
    return found


def _chromium() -> tuple[dict, dict]:
    """CPU seconds of every Chromium process on the machine: (renderers, the others)."""
    renderers, others = {}, {}
    for pid, process in processes().items():
        if process.name in CHROMIUM_NAMES:
            (renderers if process.kind == "renderer" else others)[pid] = process.cpu
    return renderers, others


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds the process has used so far: (its training threads', everything else's).
    Threads that have ended (Streamlit runs each script in a thread of its own) count in the
    process's total, so "everything else" is that total less the training threads."""
    def used(stat_path: str) -> float:
        with open(stat_path) as fh:
            return _cpu(fh.read().rpartition(")")[2].split())

    training = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as fh:
                if fh.read().startswith("bnviz-train"):
                    training += used(f"/proc/{pid}/task/{tid}/stat")
        except OSError:
            pass
    return training, used(f"/proc/{pid}/stat") - training


def read(server_pid: int) -> Reading:
    """The machine's, the server's (``server_pid``) and Chromium's CPU seconds now."""
    busy, idle = machine()
    training, server = cpu_seconds(server_pid)
    renderers, others = _chromium()
    return Reading(time.monotonic(), busy, idle, training, server, renderers, others)


def grown(then: dict, now: dict) -> float:
    """Seconds the processes alive at ``now`` used since ``then`` (one born since: all of its own)."""
    return sum(used - then.get(pid, 0.0) for pid, used in now.items())


def cores(then: Reading, now: Reading) -> dict[str, float]:
    """Cores each kind of :data:`KINDS` used on average from ``then`` to ``now``; together they
    make the machine's cores (less any time a hypervisor took)."""
    seconds = max(1e-9, now.at - then.at)
    used = {"trainings": now.training - then.training, "server": now.server - then.server,
            "renderers": grown(then.renderers, now.renderers), "chromium": grown(then.chromium, now.chromium)}
    used["else"] = max(0.0, now.busy - then.busy - sum(used.values()))
    used["idle"] = now.idle - then.idle
    return {kind: round(used[kind] / seconds, 2) for kind in KINDS}
