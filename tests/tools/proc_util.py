"""Helpers for tests that check processes really died."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path


def process_alive(pid: int) -> bool:
    """True while pid is a running (not zombie) process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def kill_quietly(pids: Iterable[int | str]) -> None:
    """SIGKILL each pid in cleanup. A pid listed a moment ago may be gone by now (a sandboxed command
    dies with its sandbox, asynchronously): that is not an error, and must not mask the test's result."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)


def read_pids(path: Path) -> list[int]:
    return [int(x) for x in path.read_text(encoding="utf-8").split()]


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    """True once predicate() is. Polled, so the timeout is only an upper bound: generous, because a
    loaded machine (the suite runs in parallel) can take seconds to start a process or end one."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()

