"""Artifacts the consumer tests take from the package registry (PyPI), fetched once per machine into
~/.cache/hermes-tests/ (or $XDG_CACHE_HOME/hermes-tests) and reused by every later run. When a fetch
fails (an offline machine, a registry outage) the test is skipped with the reason, never failed.

Each artifact is one directory, filled in a staging directory beside it and renamed into place
with a marker file only once complete: an interrupted fetch never leaves a half-filled cache. The
fill holds a lock file beside it, so parallel test workers (pytest-xdist) or two runs at once wait
for one fetch instead of each fetching and replacing the other's directory while it is in use.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hermes-tests"
MARKER = "hermes-ok"


class FetchFailed(Exception):
    """A fetch step could not reach or read the registry; the message says which step and why."""


def cached_dir(name: str, what: str, fill: Callable[[Path], None]) -> Path:
    """CACHE/name, filled once per machine by `fill(directory)`; skips the test when it raises
    FetchFailed. Any other error (e.g. the artifact is not what was pinned) fails the test."""
    final = CACHE / name
    if (final / MARKER).is_file():
        return final
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{name}.lock", "a", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        if (final / MARKER).is_file():  # another process filled it while this one waited
            return final
        return _fill(name, what, fill)


def _fill(name: str, what: str, fill: Callable[[Path], None]) -> Path:
    final = CACHE / name
    staging = CACHE / f"{name}.{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        fill(staging)
    except FetchFailed as exc:
        shutil.rmtree(staging, ignore_errors=True)
        pytest.skip(f"could not fetch {what} into {final}: {exc}")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    (staging / MARKER).write_text(what + "\n", encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    return final


def run_step(argv: list[str], timeout: float = 900) -> None:
    """Runs one fetch or set-up command; raises FetchFailed with its last output line if it fails."""
    label = " ".join(Path(a).name if i == 0 else a for i, a in enumerate(argv[:4]))
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise FetchFailed(f"{label} took over {timeout:.0f}s") from exc
    if proc.returncode != 0:
        last = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise FetchFailed(f"{label} ... exited {proc.returncode}: {last[0]}")


def pip_download(requirement: str, into: Path) -> None:
    """`pip download --no-deps` of one pinned distribution into `into` (a wheel when one exists)."""
    # Few retries and a short socket timeout: an offline machine skips in seconds, not minutes.
    run_step([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--retries", "1", "--timeout", "30",
              requirement, "-d", str(into)], timeout=600)
