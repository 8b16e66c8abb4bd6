"""Processes that escape their process group still end with hermes (Linux).

A command that runs `setsid sleep 1000 &` (or daemonises) leaves the process group the terminal
tool kills, and outlives hermes as an orphan. As a child subreaper (prctl PR_SET_CHILD_SUBREAPER)
hermes adopts such orphans instead of init; at exit, after the environments' own clean-up, it
kills every descendant still alive: SIGTERM, a short grace, SIGKILL, then reaps them.

Only the `hermes` command does this (cli.py): a library user's process is not ours to manage.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
GRACE = 0.5  # seconds between SIGTERM and SIGKILL


def become_subreaper() -> bool:
    """Adopt orphaned descendants and kill them at exit; False where the kernel offers no subreaper."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    atexit.register(kill_descendants)  # registered first, so it runs after the other clean-ups
    return True


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process visible in /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    return parents


def descendants(pid: int) -> list[int]:
    """Live (non-zombie) descendants of `pid`, parents before children."""
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    found: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_descendants() -> None:
    """SIGTERM every descendant still alive, SIGKILL those left after GRACE, reap the adopted."""
    me = os.getpid()
    pids = descendants(me)
    if not pids:
        _reap()
        return
    _signal_all(pids, signal.SIGTERM)
    deadline = time.monotonic() + GRACE
    while time.monotonic() < deadline:
        _reap()
        if not descendants(me):
            return
        time.sleep(0.02)
    _signal_all(descendants(me), signal.SIGKILL)
    _reap()
