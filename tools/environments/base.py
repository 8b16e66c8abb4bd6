"""The environment interface every terminal backend implements (local, docker, ssh, singularity, modal)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol


@dataclass
class ExecResult:
    output: str
    exit_code: int
    timed_out: bool = False
    interrupted: bool = False
    truncated_chars: int = 0  # characters of output dropped from the middle to stay under the limit
    sandbox_blocked: bool = False  # ran in the OS sandbox, which refused a write (tools/environments/sandbox.py)


class Environment(Protocol):
    """A place where shell commands run, with cwd and exported variables kept between calls."""

    backend: str

    def execute(
        self, command: str, *, timeout: float, interrupt: threading.Event | None = None
    ) -> ExecResult: ...

    def cleanup(self) -> None: ...
