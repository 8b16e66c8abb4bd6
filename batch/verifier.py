"""A sample's verifier: a shell command run in the sample's own terminal environment after the
agent finishes and before that environment is cleaned up (so it sees the files the agent left).

The reward is the number on the command's last output line when there is one (e.g. `0.75`),
else its exit status: 0 -> 1.0, anything else -> 0.0. A verifier that overruns its timeout is
stopped and scores 0.0 with an error saying so; one that cannot start (no environment) has no
reward and an error.
"""

from __future__ import annotations

import math
import re
import shlex
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_TIMEOUT = 300.0
OUTPUT_TAIL = 2000  # characters of the verifier's output kept in the results

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


@dataclass
class Verdict:
    command: str
    reward: float | None
    exit_code: int | None = None
    seconds: float = 0.0
    output: str = ""  # the last OUTPUT_TAIL characters (stdout and stderr as the terminal shows them)
    error: str | None = None

    def record(self) -> dict[str, Any]:
        return asdict(self)


def reward_from(output: str, exit_code: int) -> float:
    """The number on the last non-empty output line if the line is just a number, else the exit status."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if lines and _NUMBER.fullmatch(lines[-1]):
        value = float(lines[-1])
        if math.isfinite(value):
            return value
    return 1.0 if exit_code == 0 else 0.0


def run_verifier(task_id: str, command: str, timeout: float, interrupt: threading.Event | None = None) -> Verdict:
    """Run `command` in the task's environment (local: from the task's start directory)."""
    from tools.environments import manager

    started = time.perf_counter()
    try:
        env = manager.get_environment(task_id)
        script = command
        if env.backend == "local":  # the agent may have cd'd elsewhere; tests expect the workspace
            script = f"cd {shlex.quote(manager.workspace_root(task_id))} && {{ {command}\n}}"
        # The verifier is the operator's command, not the model's: no approval gate, no OS sandbox.
        extra = {"sandboxed": False} if env.sandbox is not None else {}
        result = env.execute(script, timeout=timeout, interrupt=interrupt, **extra)
    except Exception as exc:  # a broken environment costs this sample's reward, not the run
        return Verdict(command, None, seconds=round(time.perf_counter() - started, 3),
                       error=f"verifier could not run: {type(exc).__name__}: {exc}")
    seconds = round(time.perf_counter() - started, 3)
    output = result.output[-OUTPUT_TAIL:]
    if result.interrupted:
        return Verdict(command, None, result.exit_code, seconds, output, error="verifier interrupted (the run was stopped)")
    if result.timed_out:
        return Verdict(command, 0.0, result.exit_code, seconds, output,
                       error=f"verifier timed out after {timeout:g} s (raise it with --verify-timeout)")
    return Verdict(command, reward_from(result.output, result.exit_code), result.exit_code, seconds, output)
