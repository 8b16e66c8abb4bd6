"""The environment contract every terminal backend implements (local, docker, ssh, singularity, modal).

Callers (the terminal, process and file tools, the manager's reaper) use only what `Environment`
declares here; a backend overrides what it supports, and the defaults say plainly what it does not.
"""

from __future__ import annotations

import threading
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
        return False

    def set_sudo_password(self, password: str) -> None:
        """Use this password for `sudo` from now on (fed to `sudo -S`, never in argv)."""

    def cleanup(self) -> None:
        raise NotImplementedError
