"""The environment contract every terminal backend implements (local, docker, ssh, singularity, modal).

Callers (the terminal, process and file tools, the manager's reaper) use only what `Environment`
declares here; a backend overrides what it supports, and the defaults say plainly what it does not.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass
class ExecResult:
    output: str
    exit_code: int
    timed_out: bool = False
    interrupted: bool = False
    truncated_chars: int = 0  # characters of output dropped from the middle to stay under the limit
    sandbox_blocked: bool = False  # ran in the OS sandbox, which refused a write (tools/environments/sandbox.py)


class BackgroundJob(Protocol):
    """A detached command started by `Environment.start_background`."""

    pid: int
    output_file: str  # a path where the command runs (on this host only for the local backend)
    command: str

    def running(self) -> bool: ...

    def exit_code(self) -> int | None: ...

    def kill(self) -> None: ...


class Activity:
    """The commands running in one environment and when the last one ended: what the idle reaper
    reads (tools/environments/manager.py). Idle time counts from the end of the last command (or the
    last time the environment was handed out, whichever is later), and not at all while one runs.
    Once the reaper has retired it, nothing new starts in it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._last = time.monotonic()
        self._retired = False

    @contextlib.contextmanager
    def command(self) -> Iterator[None]:
        """`with` it around anything that runs in the environment (a command, a raw file-tool script)."""
        with self._lock:
            if self._retired:
                raise RuntimeError("environment has been cleaned up (idle longer than terminal.lifetime_seconds)")
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                self._last = time.monotonic()

    def touch(self) -> bool:
        """In use now (handed out to a caller about to run something); False if already retired."""
        with self._lock:
            self._last = max(self._last, time.monotonic())
            return not self._retired

    def busy(self) -> bool:
        with self._lock:
            return self._running > 0

    def idle_seconds(self, now: float | None = None) -> float | None:
        """How long nothing has run in it; None while something runs."""
        with self._lock:
            if self._running:
                return None
            return (time.monotonic() if now is None else now) - self._last

    def retire_if_idle(self, longer_than: float, now: float | None = None) -> bool:
        """The reaper's check and claim in one step: True (and no command starts after) only if
        nothing runs and nothing ran for `longer_than` seconds."""
        with self._lock:
            now = time.monotonic() if now is None else now
            if self._running or now - self._last <= longer_than:
                return False
            self._retired = True
            return True


class Unsupported(RuntimeError):
    """The backend cannot do this; the message says so in one line."""


class Environment:
    """A place where shell commands run, with cwd and exported variables kept between calls."""

    backend: str = "?"
    default_timeout: float = 60.0
    # The file tools read and write through `run_raw` when True; else they use this host's files.
    has_raw_channel: bool = False
    # The OS sandbox its commands run in (only the local backend has one; tools/environments/sandbox.py).
    # When set, execute() also takes `sandboxed=False` (a re-run the gate approved) and `sandbox_mode`.
    sandbox: Any = None

    @property
    def activity(self) -> Activity:
        """Made on first use, so a backend's __init__ need not call the base's (dict.setdefault is atomic)."""
        found = self.__dict__.get("_activity")
        return found if found is not None else self.__dict__.setdefault("_activity", Activity())

    @property
    def cwd(self) -> str:
        """The shell's current directory (on this host only for the local backend)."""
        raise NotImplementedError

    def execute(self, command: str, *, timeout: float, interrupt: threading.Event | None = None) -> ExecResult:
        raise NotImplementedError

    def start_background(self, command: str) -> BackgroundJob:
        raise Unsupported(f"background commands are not supported by the '{self.backend}' backend")

    def run_raw(self, script: str, timeout: float = 30) -> tuple[int, str, str]:
        """Run a script outside the shell state: (exit code, stdout, stderr). For file access."""
        raise Unsupported(f"the '{self.backend}' backend has no raw channel")

    def busy(self) -> bool:
        """True while a command runs in it (the idle reaper must not clean it up then)."""
        return self.activity.busy()

    def set_sudo_password(self, password: str) -> None:
        """Use this password for `sudo` from now on (fed to `sudo -S`, never in argv)."""

    def cleanup(self) -> None:
        raise NotImplementedError
